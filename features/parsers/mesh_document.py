"""The summary of a triangle mesh (STL, OBJ): measures, v5 shape descriptor and the one `CadDocument` builder.

Every mesh format hands its triangles here, so STL and OBJ summaries are built by the same code: bounding box,
area and (for a closed mesh) volume from `mesh_measures`, the v5 descriptor from `mesh_shape`, one `FACET` entity
per triangle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.descriptors import describe_triangles

from .document import CadDocument
from .errors import corrupt

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


def mesh_document(
    *,
    format: str,
    parser: str,
    triangles: np.ndarray,
    solids: int,
    layers: dict[str, int],
    metadata: dict[str, Any],
    describe: bool = True,
) -> CadDocument:
    """The summary of the (n, 3, 3) `triangles` of a mesh file: one FACET per triangle; `layers` (solid, object or
    group -> facets) are kept only when there are several; `describe=False` leaves out the v5 descriptor."""
    bbox, area, volume, warnings = mesh_measures(triangles)
    count = int(len(triangles))
    return CadDocument(
        format=format,
        parser=parser,
        entity_count=count,
        entity_kinds={"FACET": count},
        layers=layers if len(layers) > 1 else {},
        bbox=bbox,
        solids=solids,
        facets=count,
        area=area,
        volume=volume,
        warnings=tuple(warnings),
        metadata=metadata,
        shape=mesh_shape(triangles) if describe else None,
    )
