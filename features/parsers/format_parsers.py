"""The parser of each format, run in this process: what a parse worker calls for one task.

Kept apart from ``dispatch`` (the entry point that sniffs, caps the size and hands the bytes to the pool), so the
worker process imports the parsers and nothing of the pool or the dispatch. Each parser module is imported on
first use; the worker's forkserver imports their heavy libraries once (``features.parse_workers.worker``).
"""

from __future__ import annotations

from typing import Any

from .document import CadDocument


def parse_format(fmt: str, data: bytes, **options: Any) -> CadDocument:
    """Run the parser for `fmt` (sniffed before) on `data`; `options` are the pool's parser options."""
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
