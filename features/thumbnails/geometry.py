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
    """The drawing's own paths (model space; the paper space layouts when the model space is empty).

    The drawing is read as the parser reads it: from its ENTITIES section alone when `dxf_direct.read_direct` takes
    it (no ezdxf document), else by the parser's own choice of reader. It is decomposed once: its extents (what
    `ezdxf.bbox.extents(..., fast=True)` gives, `dxf.primitives_extents`) and its polylines come from the same
    primitives, as in the parser; a drawing expanding to more than `SHARED_PRIMITIVES_LIMIT` primitives is
    streamed twice instead (bounded memory). The polylines are, bit for bit, those of the former reading (the whole
    document, `ezdxf.bbox` extents, a second decomposition): `tests/features/test_thumbnails_render.py` compares them
    on every shared and damaged DXF."""
    from features.parsers.dxf import _dxf_encoding, is_binary_dxf, scan_dxf
    from features.parsers.dxf_direct import read_direct

    scan = None if is_binary_dxf(data) else scan_dxf(data)
    direct = read_direct(data, scan, encoding=_dxf_encoding(data)) if scan is not None else None
    if direct is None:
        return _document_polylines(data, scan)
    return _entity_polylines(direct.entities)


def _document_polylines(data: bytes, scan) -> list[np.ndarray]:
    from features.parsers.dxf import _load

    doc, _notes, _reader = _load(data, scan, "auto")  # the parser's own choice of reader
    entities = list(doc.modelspace())
    if not entities:
        entities = [e for layout in doc.layouts if not layout.is_modelspace for e in layout]
    return _entity_polylines(entities)


def _entity_polylines(entities: list) -> list[np.ndarray]:
    import itertools

    from ezdxf import bbox as ezbbox
    from ezdxf import disassemble

    from features.descriptors.dxf_curves import decompose, layout_polylines, primitive_polylines
    from features.parsers.dxf import SHARED_PRIMITIVES_LIMIT, primitives_extents

    if not entities:
        raise empty("the DXF holds no entities")
    primitives = list(itertools.islice(disassemble.to_primitives(decompose(entities)), SHARED_PRIMITIVES_LIMIT + 1))
    if len(primitives) <= SHARED_PRIMITIVES_LIMIT:
        extents = primitives_extents(primitives)
        if extents is None:
            raise empty("the DXF has no extents")
        box = (tuple(extents[0].tolist()), tuple(extents[1].tolist()))
        polylines = primitive_polylines(primitives, box)
        return polylines or primitive_polylines(primitives, box, skip_annotations=False)
    del primitives
    extents = ezbbox.extents(entities, fast=True)
    if not extents.has_data:
        raise empty("the DXF has no extents")
    box = (tuple(extents.extmin), tuple(extents.extmax))
    polylines = layout_polylines(entities, box)
    return polylines or layout_polylines(entities, box, skip_annotations=False)
