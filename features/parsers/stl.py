"""STL: our own vectorised parser (no per-facet Python objects).

Binary vs ASCII is decided by the strict length rule (`84 + 50 * count == len(data)`), never by the
word `solid` (many binary writers start the 80-byte header with it). ASCII files may hold several
solids; all of them are read, and each solid's name becomes a "layer" with its facet count.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from .document import CadDocument
from .errors import CadParseError, corrupt, empty
from .sniff import binary_stl_length_matches

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


def mesh_measures(triangles: np.ndarray) -> tuple[tuple, float, float | None, list[str]]:
    """bbox, area and (for a closed mesh) volume of an (n, 3, 3) float array, all vectorised.

    Closedness test: for a closed surface the area-weighted normals cancel (sum of edge cross products
    is the zero vector); an open mesh gets no volume and a warning instead of a meaningless number.
    """
    warnings: list[str] = []
    flat = triangles.reshape(-1, 3)
    if not np.isfinite(flat).all():
        raise corrupt("the mesh has NaN or infinite coordinates", reason="non_finite_coordinates")
    lo = flat.min(axis=0).astype(np.float64)
    hi = flat.max(axis=0).astype(np.float64)
    v0 = triangles[:, 0, :].astype(np.float64)
    e1 = triangles[:, 1, :] - triangles[:, 0, :]
    e2 = triangles[:, 2, :] - triangles[:, 0, :]
    cross = np.cross(e1.astype(np.float64), e2.astype(np.float64))
    norms = np.sqrt(np.einsum("ij,ij->i", cross, cross))
    area = float(norms.sum()) / 2.0
    volume: float | None = None
    total_norm = float(norms.sum())
    if not (np.isfinite(area) and np.isfinite(total_norm)):
        raise corrupt("the mesh coordinates are too large to measure", reason="coordinate_overflow")
    if total_norm > 0.0:
        closure = float(np.linalg.norm(cross.sum(axis=0))) / total_norm
        if closure <= 1e-6:
            volume = abs(float(np.einsum("ij,ij->", v0, cross))) / 6.0
            if not np.isfinite(volume):
                volume = None
        else:
            warnings.append("the mesh is not closed: volume unknown")
    bbox = (tuple(float(x) for x in lo), tuple(float(x) for x in hi))
    return bbox, area, volume, warnings


def parse_binary_stl(data: bytes) -> CadDocument:
    if not binary_stl_length_matches(data):
        raise _length_error(data)
    (count,) = struct.unpack_from("<I", data, 80)
    if count == 0:
        raise empty("the binary STL holds zero triangles", triangles=0)
    records = np.frombuffer(data, dtype=BINARY_RECORD, count=count, offset=84)
    bbox, area, volume, warnings = mesh_measures(records["vertices"])
    return CadDocument(
        format="stl",
        parser=PARSER,
        entity_count=count,
        entity_kinds={"FACET": count},
        layers={},
        bbox=bbox,
        solids=1,
        facets=count,
        area=area,
        volume=volume,
        warnings=tuple(warnings),
        metadata={"encoding": "binary"},
    )


def _length_error(data: bytes) -> CadParseError:
    if len(data) < 84:
        return corrupt(
            "the file is shorter than a binary STL header (84 bytes) and is not ASCII STL",
            size=len(data),
        )
    (count,) = struct.unpack_from("<I", data, 80)
    expected = 84 + 50 * count
    return corrupt(
        "binary STL size does not match its triangle count (truncated or corrupt)",
        declared_triangles=count,
        expected_size=expected,
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


def parse_ascii_stl(data: bytes) -> CadDocument:
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
    bbox, area, volume, warnings = mesh_measures(triangles)

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
    return CadDocument(
        format="stl",
        parser=PARSER,
        entity_count=facet_count,
        entity_kinds={"FACET": facet_count},
        layers=layers if len(layers) > 1 else {},
        bbox=bbox,
        solids=len(solid_starts),
        facets=facet_count,
        area=area,
        volume=volume,
        warnings=tuple(warnings),
        metadata={"encoding": "ascii", "solid_names": list(layers)},
    )


def is_binary_stl(data: bytes) -> bool:
    return binary_stl_length_matches(data)


def parse_stl(data: bytes) -> CadDocument:
    if binary_stl_length_matches(data):
        return parse_binary_stl(data)
    if data.lstrip()[:5].lower() == b"solid":
        return parse_ascii_stl(data)
    raise _length_error(data)
