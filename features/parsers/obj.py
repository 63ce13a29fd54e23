"""OBJ through trimesh, from bytes, with no file resolver: `mtllib`/texture references are never
followed, so no file outside the upload is ever opened. Out-of-range face indices are a corrupt file.
Objects and groups (`o`, `g`) become layers with their face counts.
"""

from __future__ import annotations

import io

import numpy as np

from .document import CadDocument
from .errors import corrupt, empty
from .mesh_document import mesh_document

PARSER = "trimesh"


def parse_obj(data: bytes) -> CadDocument:
    from trimesh.exchange.obj import load_obj

    try:
        loaded = load_obj(
            io.BytesIO(data),
            resolver=None,
            skip_materials=True,
            group_material=False,
            split_objects=True,
            split_groups=True,
        )
    except IndexError as exc:
        raise corrupt(f"OBJ face index out of range: {str(exc)[:200]}", reason="index_out_of_range") from None
    except Exception as exc:  # trimesh raises ValueError/TypeError/... on malformed text
        raise corrupt(f"trimesh could not read the OBJ: {str(exc)[:200]}", error=type(exc).__name__) from None

    geometry = loaded.get("geometry", {}) if isinstance(loaded, dict) else {}
    if not geometry and isinstance(loaded, dict) and "vertices" in loaded:
        geometry = {"mesh": loaded}
    parts: list[np.ndarray] = []
    layers: dict[str, int] = {}
    for name, mesh in geometry.items():
        vertices = np.asarray(mesh.get("vertices", np.zeros((0, 3))), dtype=np.float64)
        faces = np.asarray(mesh.get("faces", np.zeros((0, 3))), dtype=np.int64)
        if faces.size == 0:
            continue
        if faces.ndim != 2 or faces.shape[1] < 3 or vertices.ndim != 2 or vertices.shape[1] != 3:
            raise corrupt("OBJ geometry has an unexpected shape", faces=list(faces.shape))
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise corrupt("OBJ face index out of range", reason="index_out_of_range")
        if faces.shape[1] > 3:  # quads and n-gons: fan triangulation, vectorised
            corners = faces.shape[1]
            fan = np.stack([np.zeros(corners - 2, int), np.arange(1, corners - 1), np.arange(2, corners)], axis=1)
            faces = faces[:, fan].reshape(-1, 3)
        parts.append(vertices[faces])
        layers[str(name)[:200]] = int(len(faces))
    if not parts:
        raise empty("the OBJ file holds no faces")
    return mesh_document(format="obj", parser=PARSER, triangles=np.concatenate(parts), solids=len(layers),
                         layers=layers, metadata={"objects": list(layers)[:100]})
