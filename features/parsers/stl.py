"""STL: our own vectorised parser (no per-facet Python objects).

Binary vs ASCII is decided by the strict length rule (`84 + 50 * count == len(data)`, `stl_layout`), never by
the word `solid` (many binary writers start the 80-byte header with it). ASCII files may hold several
solids; all of them are read, and each solid's name becomes a "layer" with its facet count. The summary is
built by `mesh_document`, as OBJ's is.
"""

from __future__ import annotations

import re

import numpy as np

from .document import CadDocument
from .errors import CadParseError, corrupt, empty
from .mesh_document import mesh_document
from .stl_layout import TRIANGLES_OFFSET, binary_stl_length_matches, binary_stl_size, declared_triangles

PARSER = "stl-numpy"

BINARY_RECORD = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")]
)
MAX_ASCII_LINE = 4096  # bytes; an ASCII STL line is "vertex x y z" (< 100 bytes in practice)

_SOLID_RE = re.compile(rb"^[ \t]*solid(?:[ \t]+([^\r\n]*))?[ \t]*\r?$", re.M | re.I)
_ENDSOLID_RE = re.compile(rb"^[ \t]*endsolid\b", re.M | re.I)
_FACET_RE = re.compile(rb"^[ \t]*facet\b", re.M | re.I)
_VERTEX_RE = re.compile(rb"^[ \t]*vertex[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]*\r?$", re.M | re.I)
_VERTEX_WORD_RE = re.compile(rb"^[ \t]*vertex\b", re.M | re.I)


def binary_stl_triangles(data: bytes) -> np.ndarray:
    """The (n, 3, 3) float32 vertices of a binary STL, a view on `data` (no copy); the length rule is checked."""
    if not binary_stl_length_matches(data):
        raise _length_error(data)
    count = declared_triangles(data)
    if count == 0:
        raise empty("the binary STL holds zero triangles", triangles=0)
    return np.frombuffer(data, dtype=BINARY_RECORD, count=count, offset=TRIANGLES_OFFSET)["vertices"]


def parse_binary_stl(data: bytes, *, describe: bool = True) -> CadDocument:
    return mesh_document(format="stl", parser=PARSER, triangles=binary_stl_triangles(data), solids=1, layers={},
                         metadata={"encoding": "binary"}, describe=describe)


def _length_error(data: bytes) -> CadParseError:
    count = declared_triangles(data)
    if count is None:
        return corrupt(
            f"the file is shorter than a binary STL header ({TRIANGLES_OFFSET} bytes) and is not ASCII STL",
            size=len(data),
        )
    return corrupt(
        "binary STL size does not match its triangle count (truncated or corrupt)",
        declared_triangles=count,
        expected_size=binary_stl_size(count),
        size=len(data),
    )


def _longest_line(data: bytes, chunk: int = 1 << 22) -> int:
    """Length of the longest line, scanning 4 MiB chunks so memory stays bounded whatever the input."""
    longest = 0
    line_start = 0
    view = np.frombuffer(data, dtype=np.uint8)
    for offset in range(0, len(data), chunk):
        newlines = np.flatnonzero(view[offset : offset + chunk] == 0x0A) + offset
        if newlines.size:
            longest = max(longest, int(newlines[0]) - line_start)
            if newlines.size > 1:
                longest = max(longest, int(np.diff(newlines).max()) - 1)
            line_start = int(newlines[-1]) + 1
    return max(longest, len(data) - line_start)


def parse_ascii_stl(data: bytes, *, describe: bool = True) -> CadDocument:
    longest = _longest_line(data)
    if longest > MAX_ASCII_LINE:
        raise CadParseError(
            f"an ASCII STL line is {longest} bytes long (limit {MAX_ASCII_LINE})",
            code="line_too_long",
            context={"longest_line": longest, "limit": MAX_ASCII_LINE},
        )
    solid_starts = [(m.start(), (m.group(1) or b"").strip()) for m in _SOLID_RE.finditer(data)]
    if not solid_starts:
        raise corrupt("ASCII STL without a `solid` line")
    if not _ENDSOLID_RE.search(data):
        raise corrupt("ASCII STL without `endsolid` (truncated)")
    vertex_matches = list(_VERTEX_RE.finditer(data))
    if len(vertex_matches) != len(_VERTEX_WORD_RE.findall(data)):
        raise corrupt("ASCII STL with a malformed `vertex` line")
    facet_count = len(_FACET_RE.findall(data))
    if facet_count == 0 and not vertex_matches:
        raise empty("the ASCII STL holds zero facets", triangles=0)
    if len(vertex_matches) != 3 * facet_count:
        raise corrupt(
            "ASCII STL facets must have exactly three vertices",
            facets=facet_count,
            vertices=len(vertex_matches),
        )
    try:
        coords = np.array(
            [m.groups() for m in vertex_matches], dtype=np.bytes_
        ).astype(np.float64)
    except ValueError:
        raise corrupt("ASCII STL with a non-numeric vertex coordinate") from None
    triangles = coords.reshape(-1, 3, 3)

    # Facets per solid: a vertex belongs to the last `solid` line before it.
    starts = np.array([start for start, _ in solid_starts])
    vertex_pos = np.array([m.start() for m in vertex_matches[::3]])
    owner = np.searchsorted(starts, vertex_pos, side="right") - 1
    per_solid = np.bincount(owner.clip(min=0), minlength=len(starts))
    layers: dict[str, int] = {}
    for index, ((_, raw_name), facets) in enumerate(zip(solid_starts, per_solid)):
        name = raw_name.decode("utf-8", "replace")[:200] or f"solid_{index + 1}"
        if name in layers:
            name = f"{name}#{index + 1}"
        layers[name] = int(facets)
    return mesh_document(format="stl", parser=PARSER, triangles=triangles, solids=len(solid_starts), layers=layers,
                         metadata={"encoding": "ascii", "solid_names": list(layers)}, describe=describe)


def parse_stl(data: bytes, *, describe: bool = True) -> CadDocument:
    """The summary of an STL; `describe=False` leaves out the v5 shape descriptor (the parse benchmark)."""
    if binary_stl_length_matches(data):
        return parse_binary_stl(data, describe=describe)
    if data.lstrip()[:5].lower() == b"solid":
        return parse_ascii_stl(data, describe=describe)
    raise _length_error(data)
