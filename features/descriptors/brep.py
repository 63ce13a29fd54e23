"""A B-rep (OCP `TopoDS_Shape`) as triangles or curve segments for the shape descriptor.

Faces are tessellated with `BRepMesh_IncrementalMesh` at a linear deflection relative to the part's size
(`LINEAR_DEFLECTION` x bounding-box diagonal) and an angular deflection, so a small part and the same part
drawn a thousand times larger get the same triangles up to scale. Reversed faces have their triangles
flipped so that the surface stays consistently oriented (closedness and volume are read from the winding).
A shape without faces (an IGES or STEP of curves only) is described from its edges, discretised with
`GCPnts_TangentialDeflection` at the same relative tolerances. Runs in the parse worker (OCP imported there).
"""

from __future__ import annotations

import math

import numpy as np

LINEAR_DEFLECTION = 0.002  # of the bounding-box diagonal
ANGULAR_DEFLECTION = 0.35  # radians
MAX_TRIANGLES = 2_000_000
MAX_SEGMENTS = 2_000_000


class TessellationTooLarge(ValueError):
    pass


def _diagonal(box) -> float:
    lo, hi = box
    return math.sqrt(sum((b - a) ** 2 for a, b in zip(lo, hi)))


def tessellate(shape, box) -> np.ndarray:
    """(n, 3, 3) float64 triangles of every face of `shape` (empty when it has no face)."""
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.TopAbs import TopAbs_FACE, TopAbs_REVERSED
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopLoc import TopLoc_Location
    from OCP.TopoDS import TopoDS

    diagonal = _diagonal(box) if box is not None else 0.0
    if not diagonal > 0.0:
        return np.zeros((0, 3, 3))
    BRepMesh_IncrementalMesh(shape, LINEAR_DEFLECTION * diagonal, False, ANGULAR_DEFLECTION, False)
    parts: list[np.ndarray] = []
    count = 0
    explorer = TopExp_Explorer(shape, TopAbs_FACE)
    while explorer.More():
        face = TopoDS.Face(explorer.Current())
        explorer.Next()
        location = TopLoc_Location()
        mesh = BRep_Tool.Triangulation_s(face, location)
        if mesh is None:
            continue
        n_nodes, n_triangles = mesh.NbNodes(), mesh.NbTriangles()
        if n_triangles == 0:
            continue
        count += n_triangles
        if count > MAX_TRIANGLES:
            raise TessellationTooLarge(f"the tessellation exceeds {MAX_TRIANGLES} triangles")
        transform = location.Transformation()
        nodes = np.empty((n_nodes, 3))
        for i in range(1, n_nodes + 1):
            point = mesh.Node(i)
            if not location.IsIdentity():
                point = point.Transformed(transform)
            nodes[i - 1] = (point.X(), point.Y(), point.Z())
        corners = np.array([mesh.Triangle(i).Get() for i in range(1, n_triangles + 1)], dtype=np.int64) - 1
        if face.Orientation() == TopAbs_REVERSED:
            corners = corners[:, ::-1]
        parts.append(nodes[corners])
    if not parts:
        return np.zeros((0, 3, 3))
    return np.concatenate(parts)


def edge_polylines(shape, box) -> list[np.ndarray]:
    """Each edge of `shape` as a polyline ((k, 3) float64), discretised at a relative deflection."""
    from OCP.BRepAdaptor import BRepAdaptor_Curve
    from OCP.GCPnts import GCPnts_TangentialDeflection
    from OCP.OCP.collections import IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher as ShapeMap
    from OCP.TopAbs import TopAbs_EDGE
    from OCP.TopExp import TopExp
    from OCP.TopoDS import TopoDS

    diagonal = _diagonal(box) if box is not None else 0.0
    if not diagonal > 0.0:
        return []
    edges = ShapeMap()
    TopExp.MapShapes_s(shape, TopAbs_EDGE, edges)
    polylines: list[np.ndarray] = []
    total = 0
    for index in range(1, edges.Size() + 1):
        edge = TopoDS.Edge(edges.FindKey(index))
        try:
            curve = BRepAdaptor_Curve(edge)
        except Exception:  # an edge without a 3D curve: nothing to sample
            continue
        sampler = GCPnts_TangentialDeflection(curve, ANGULAR_DEFLECTION, LINEAR_DEFLECTION * diagonal, 2)
        n = sampler.NbPoints()
        total += n
        if total > MAX_SEGMENTS:
            raise TessellationTooLarge(f"the edges exceed {MAX_SEGMENTS} segments")
        points = np.array([(p.X(), p.Y(), p.Z()) for p in (sampler.Value(i) for i in range(1, n + 1))])
        if len(points) >= 2:
            polylines.append(points)
    return polylines
