"""The curves of a DXF layout as polylines for the shape descriptor (ezdxf's disassemble and path tools).

Block references are expanded (`decompose`: what `disassemble.recursive_decompose` yields; the parser has
already refused cyclic, too deep or too large block graphs), each entity becomes a primitive, and each
primitive's path is flattened
sub-path by sub-path at a distance relative to the drawing's size (`FLATTENING` x extents diagonal), so a
drawing saved in another DXF version, or drawn in other units, gives the same polylines up to scale. Mesh
primitives (3DFACE, MESH, POLYFACE) contribute the edges of their faces. Text, hatches, images and viewports
are annotations, not the part's geometry, and are left out.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

FLATTENING = 0.002  # of the extents diagonal
MAX_POINTS = 2_000_000
SKIPPED_KINDS = frozenset({
    "TEXT", "MTEXT", "ATTRIB", "ATTDEF", "HATCH", "MPOLYGON", "IMAGE", "WIPEOUT", "VIEWPORT", "POINT",
    "ACAD_TABLE", "TOLERANCE", "UNDERLAY", "PDFUNDERLAY", "DWFUNDERLAY", "DGNUNDERLAY", "OLE2FRAME",
})


class TooManyPoints(ValueError):
    pass


# entity class -> True when ezdxf neither expands it (INSERT) nor decomposes it (`__virtual_entities__`)
_PLAIN_CLASSES: dict[type, bool] = {}


def decompose(entities: Iterable) -> Iterable:
    """The stream `disassemble.recursive_decompose(entities)` yields, entity for entity: ezdxf's own generator
    tests each entity against its runtime-checkable `SupportsVirtualEntities` protocol (a static attribute lookup
    through the class hierarchy, per entity); here that answer is kept per entity class."""
    from ezdxf.entities import Insert
    from ezdxf.protocols import SupportsVirtualEntities, virtual_entities

    for entity in entities:
        kind = type(entity)
        plain = _PLAIN_CLASSES.get(kind)
        if plain is None:
            plain = _PLAIN_CLASSES[kind] = not isinstance(entity, (Insert, SupportsVirtualEntities))
        if plain:
            yield entity
        elif isinstance(entity, Insert):  # as recursive_decompose expands a block reference
            if entity.mcount > 1:
                yield from decompose(entity.multi_insert())
            else:
                yield from entity.attribs
                yield from decompose(virtual_entities(entity))
        else:
            yield from decompose(virtual_entities(entity))


def layout_polylines(entities: Iterable, box, *, skip_annotations: bool = True) -> list[np.ndarray]:
    """Polylines ((k, 3) float64) of the drawable geometry of `entities` (a layout or a list of entities);
    with `skip_annotations=False` text and hatches count too (for a drawing that holds nothing else)."""
    from ezdxf import disassemble

    distance = flattening_distance(box)
    if distance is None:
        return []
    skipped = SKIPPED_KINDS if skip_annotations else frozenset({"VIEWPORT"})
    kept = (e for e in decompose(entities) if e.dxftype() not in skipped)
    return _polylines(disassemble.to_primitives(kept, max_flattening_distance=distance), distance)


def flattening_distance(box) -> float | None:
    """The flattening distance for a drawing of extents `box`, None for a drawing without size."""
    lo, hi = box
    diagonal = math.sqrt(sum((b - a) ** 2 for a, b in zip(lo, hi)))
    if not diagonal > 0.0:
        return None
    return FLATTENING * diagonal


def primitive_polylines(primitives: list, box, *, skip_annotations: bool = True) -> list[np.ndarray]:
    """`layout_polylines` from primitives made once (`disassemble.to_primitives(decompose(...))`),
    e.g. those the parser has already measured the extents with: the same polylines, without a second
    decomposition of the drawing."""
    distance = flattening_distance(box)
    if distance is None:
        return []
    skipped = SKIPPED_KINDS if skip_annotations else frozenset({"VIEWPORT"})

    def kept():
        for primitive in primitives:
            if primitive.entity.dxftype() not in skipped:
                primitive.max_flattening_distance = distance
                yield primitive

    return _polylines(kept(), distance)


def _polylines(primitives: Iterable, distance: float) -> list[np.ndarray]:
    polylines: list[np.ndarray] = []
    total = 0
    for primitive in primitives:
        mesh = primitive.mesh
        if mesh is not None:
            vertices = np.asarray([tuple(v) for v in mesh.vertices], dtype=np.float64).reshape(-1, 3)
            for face in mesh.faces:
                if len(face) >= 2 and max(face) < len(vertices):
                    polylines.append(vertices[list(face) + [face[0]]])
                    total += len(face) + 1
        else:
            path = primitive.path
            if path is None:
                continue
            # a single path is its one sub-path (sub_paths() would rebuild it command by command)
            for sub in (path.sub_paths() if path.has_sub_paths else (path,)):
                points = np.asarray([v.xyz for v in sub.flattening(distance)], dtype=np.float64).reshape(-1, 3)
                if len(points) >= 2:
                    polylines.append(points)
                    total += len(points)
        if total > MAX_POINTS:
            raise TooManyPoints(f"the drawing flattens to more than {MAX_POINTS} points")
    return polylines
