"""STL: our own vectorised parser (no per-facet Python objects).

Binary vs ASCII is decided by the strict length rule (`84 + 50 * count == len(data)`), never by the
word `solid` (many binary writers start the 80-byte header with it). ASCII files may hold several
solids; all of them are read, and each solid's name becomes a "layer" with its facet count.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from features.descriptors import describe_triangles

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


CLOSURE_TOLERANCE = 1e-5


def _measure(columns: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(area, |signed volume|, sum of edge cross products) of a (3 vertices, 3 axes, n) array."""
    a = columns[1] - columns[0]
    b = columns[2] - columns[0]
    cx = a[1] * b[2] - a[2] * b[1]
    cy = a[2] * b[0] - a[0] * b[2]
    cz = a[0] * b[1] - a[1] * b[0]
    area = float(np.sqrt(cx * cx + cy * cy + cz * cz).sum(dtype=np.float64)) / 2.0
    # volume relative to the centroid of the first vertices: small operands, little cancellation
    origin = columns[0].mean(axis=1, dtype=np.float64).astype(columns.dtype)
    p = columns[0] - origin[:, None]
    volume = abs(float(np.dot(p[0], cx) + np.dot(p[1], cy) + np.dot(p[2], cz))) / 6.0
    closure = np.array([cx.sum(dtype=np.float64), cy.sum(dtype=np.float64), cz.sum(dtype=np.float64)])
    return area, volume, closure


def mesh_measures(triangles: np.ndarray) -> tuple[tuple, float, float | None, list[str]]:
    """bbox, area and (for a closed mesh) volume of an (n, 3, 3) array (any strides), all vectorised.

    The triangles are copied once into a (vertex, axis, n) layout so every later pass is over contiguous
    columns. Non-finite coordinates are refused (NaN and inf propagate into the bounding box, so checking
    its six numbers is enough). Closedness test: for a closed surface the area-weighted normals cancel (the
    sum of edge cross products is the zero vector); an open mesh gets no volume and a warning instead of a
    meaningless number. Products are taken in float32 for float32 input and redone in float64 when a
    coordinate is so large that float32 products overflow.
    """
    warnings: list[str] = []
    columns = np.ascontiguousarray(np.asarray(triangles).transpose(1, 2, 0))
    lo = np.array([columns[:, axis].min() for axis in range(3)], dtype=np.float64)
    hi = np.array([columns[:, axis].max() for axis in range(3)], dtype=np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise corrupt("the mesh has NaN or infinite coordinates", reason="non_finite_coordinates")
    with np.errstate(over="ignore", invalid="ignore"):
        area, volume, closure = _measure(columns)
        if not (np.isfinite(area) and np.isfinite(volume) and np.isfinite(closure).all()):
            area, volume, closure = _measure(columns.astype(np.float64))
    if not (np.isfinite(area) and np.isfinite(volume)):
        raise corrupt("the mesh coordinates are too large to measure", reason="coordinate_overflow")
    measured_volume: float | None = None
    if area > 0.0:
        if float(np.linalg.norm(closure)) / (2.0 * area) <= CLOSURE_TOLERANCE:
            measured_volume = volume
        else:
            warnings.append("the mesh is not closed: volume unknown")
    bbox = (tuple(float(x) for x in lo), tuple(float(x) for x in hi))
    return bbox, area, measured_volume, warnings


def mesh_shape(triangles: np.ndarray) -> dict:
    """The v5 shape descriptor of a mesh format without declared units (STL, OBJ): millimetres assumed."""
    return describe_triangles(triangles, source="mesh", mm_per_unit=1.0, units=None, units_assumed=True)


def parse_binary_stl(data: bytes, *, describe: bool = True) -> CadDocument:
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
        shape=mesh_shape(records["vertices"]) if describe else None,
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
        shape=mesh_shape(triangles) if describe else None,
    )


def is_binary_stl(data: bytes) -> bool:
    return binary_stl_length_matches(data)


def parse_stl(data: bytes, *, describe: bool = True) -> CadDocument:
    """The summary of an STL; `describe=False` leaves out the v5 shape descriptor (the parse benchmark)."""
    if binary_stl_length_matches(data):
        return parse_binary_stl(data, describe=describe)
    if data.lstrip()[:5].lower() == b"solid":
        return parse_ascii_stl(data, describe=describe)
    raise _length_error(data)
