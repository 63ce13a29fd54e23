"""One entry point from bytes to `CadDocument`: size cap, content sniffing, then the worker pool.

Every format goes to the worker pool (memory limit, wall timeout, kill), which runs `format_parsers.parse_format`
in a worker: each parser also computes the v5 shape descriptor from the geometry (for binary STL too, whose parse
alone used to run in the calling process: the descriptor's sampling and moments belong under the worker's
limits). The pool is handed in by the caller (the process-local one, `features.parse_pool`), so this module
imports neither the pool nor the worker.
"""

from __future__ import annotations

from typing import Callable, Protocol

from .document import CadDocument
from .errors import CadParseError
from .sniff import sniff_format

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class ParseRunner(Protocol):
    """What `parse_document` hands the sniffed bytes to: the worker pool (`features.parse_workers.pool.ParsePool`)."""

    def parse(self, fmt: str, data: bytes, *, while_parsing: Callable[[], None] | None = None) -> CadDocument: ...


def too_large_error(size: int, max_bytes: int) -> CadParseError:
    return CadParseError(
        f"the file is {size} bytes; the limit is {max_bytes} bytes",
        code="file_too_large",
        context={"size": size, "max_bytes": max_bytes},
    )


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise too_large_error(size, max_bytes)


def parse_document(
    data: bytes,
    *,
    name: str | None,
    pool: ParseRunner,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    while_parsing: Callable[[], None] | None = None,
) -> CadDocument:
    """The summary of `data`, parsed by `pool`. `while_parsing` (the caller's own work, such as writing the upload's
    original) runs once the pool has the bytes, while they are parsed; not at all when the size or the sniff refuses
    them."""
    check_size(len(data), max_bytes)
    fmt = sniff_format(data, name)
    try:
        return pool.parse(fmt, data, while_parsing=while_parsing)
    except CadParseError as exc:
        exc.context.setdefault("format", fmt)
        raise
