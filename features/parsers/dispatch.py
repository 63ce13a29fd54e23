"""One entry point from bytes to `CadDocument`: size cap, content sniffing, then the right parser.

Every format goes to the worker pool (memory limit, wall timeout, kill): each parser also computes the v5
shape descriptor from the geometry (for binary STL too, whose parse alone used to run in the calling process:
the descriptor's sampling and moments belong under the worker's limits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .document import CadDocument
from .errors import CadParseError
from .sniff import sniff_format

if TYPE_CHECKING:  # pragma: no cover
    from .pool import ParsePool

DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def parse_format(fmt: str, data: bytes, **options: Any) -> CadDocument:
    """Run the parser for `fmt` in this process (inside a pool worker, or binary STL in process)."""
    if fmt == "stl":
        from .stl import parse_stl

        return parse_stl(data)
    if fmt == "dxf":
        from .dxf import parse_dxf

        dxf_options = {k: options[k] for k in ("entity_budget", "max_depth") if options.get(k) is not None}
        return parse_dxf(data, **dxf_options)
    if fmt in ("step", "iges"):
        from .step_iges import parse_occt

        return parse_occt(fmt, data)
    if fmt == "obj":
        from .obj import parse_obj

        return parse_obj(data)
    raise ValueError(f"no parser for format {fmt!r}")


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
    pool: "ParsePool",
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> CadDocument:
    check_size(len(data), max_bytes)
    fmt = sniff_format(data, name)
    try:
        return pool.parse(fmt, data)
    except CadParseError as exc:
        exc.context.setdefault("format", fmt)
        raise
