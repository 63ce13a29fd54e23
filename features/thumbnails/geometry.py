"""The drawable geometry of an original: triangles for 3D formats, polylines for DXF (Django-free).

The original was parsed successfully before it was stored, so the parser's own guards (block-expansion budget,
tessellation and flattening caps) have already accepted it; the same caps apply here.
"""

from __future__ import annotations

import io

import numpy as np

from features.parsers.errors import corrupt, empty


def stl_triangles(data: bytes) -> np.ndarray:
    from features.parsers.stl import _VERTEX_RE, binary_stl_triangles
    from features.parsers.stl_layout import binary_stl_length_matches

    if binary_stl_length_matches(data):
        return binary_stl_triangles(data).astype(np.float64)
    coords = [m.groups() for m in _VERTEX_RE.finditer(data)]
    usable = len(coords) - len(coords) % 3
    if usable == 0:
        raise empty("the ASCII STL holds no facets")
    return np.array(coords[:usable], dtype=np.bytes_).astype(np.float64).reshape(-1, 3, 3)


def obj_triangles(data: bytes) -> np.ndarray:
    from trimesh.exchange.obj import load_obj

    loaded = load_obj(io.BytesIO(data), resolver=None, skip_materials=True, group_material=False,
                      split_objects=True, split_groups=True)
    geometry = loaded.get("geometry", {}) if isinstance(loaded, dict) else {}
    if not geometry and isinstance(loaded, dict) and "vertices" in loaded:
        geometry = {"mesh": loaded}
    parts = []
    for mesh in geometry.values():
        vertices = np.asarray(mesh.get("vertices", np.zeros((0, 3))), dtype=np.float64)
        faces = np.asarray(mesh.get("faces", np.zeros((0, 3))), dtype=np.int64)
        if faces.size == 0 or faces.ndim != 2 or faces.shape[1] < 3:
            continue
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise corrupt("OBJ face index out of range")
        corners = faces.shape[1]
        fan = np.stack([np.zeros(corners - 2, int), np.arange(1, corners - 1), np.arange(2, corners)], axis=1)
        parts.append(vertices[faces[:, fan].reshape(-1, 3)])
    if not parts:
        raise empty("the OBJ file holds no faces")
    return np.concatenate(parts)


def occt_geometry(fmt: str, data: bytes) -> tuple[np.ndarray, list[np.ndarray]]:
    """(triangles, edge polylines) of a STEP/IGES file: faces when it has any, else its edges (a wireframe)."""
    from features.descriptors.brep import edge_polylines, tessellate
    from features.parsers.step_iges import bounding_box, iges_records, read_shape_bytes

    if fmt == "iges":
        data, _unterminated = iges_records(data)
    shape = read_shape_bytes(fmt, data)
    box = bounding_box(shape)
    triangles = tessellate(shape, box)
    if len(triangles):
        return triangles, []
    edges = edge_polylines(shape, box) if box is not None else []
    if edges:
        return triangles, edges
    return triangles, [_vertices(shape)]  # a file of points only: drawn as its points


def _vertices(shape) -> np.ndarray:
    from OCP.BRep import BRep_Tool
    from OCP.TopAbs import TopAbs_VERTEX
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopoDS import TopoDS

    points = []
    explorer = TopExp_Explorer(shape, TopAbs_VERTEX)
    while explorer.More() and len(points) < 100_000:
        point = BRep_Tool.Pnt_s(TopoDS.Vertex(explorer.Current()))
        points.append((point.X(), point.Y(), point.Z()))
        explorer.Next()
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)


def dxf_polylines(data: bytes) -> list[np.ndarray]:
    """The drawing's own paths (model space; the paper space layouts when the model space is empty)."""
    from ezdxf import bbox as ezbbox

    from features.descriptors.dxf_curves import layout_polylines
    from features.parsers.dxf import _load, scan_dxf

    doc, _notes, _reader = _load(data, scan_dxf(data), "auto")  # the parser's own choice of reader
    entities = list(doc.modelspace())
    if not entities:
        entities = [e for layout in doc.layouts if not layout.is_modelspace for e in layout]
    if not entities:
        raise empty("the DXF holds no entities")
    extents = ezbbox.extents(entities, fast=True)
    if not extents.has_data:
        raise empty("the DXF has no extents")
    box = (tuple(extents.extmin), tuple(extents.extmax))
    polylines = layout_polylines(entities, box)
    return polylines or layout_polylines(entities, box, skip_annotations=False)
