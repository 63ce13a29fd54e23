"""The geometric shape descriptor of feature version v5 (Django-free).

`shape` computes it from triangles or curve segments; `brep` and `dxf_curves` turn OCP shapes and DXF
layouts into those elements (inside the parse worker); `units` converts declared units to millimetres.
Parsers store the result in `CadDocument.shape`; `features.extractors.v5` turns it into the v5 vector.
"""

from .shape import (
    DESCRIPTOR_SCHEMA,
    SHAPE_NAMES,
    SIZE_NAMES,
    DescriptorError,
    describe_segments,
    describe_triangles,
    empty_descriptor,
    polylines_to_segments,
)
from .units import MM_PER_UNIT, mm_per_unit

__all__ = [
    "DESCRIPTOR_SCHEMA",
    "MM_PER_UNIT",
    "SHAPE_NAMES",
    "SIZE_NAMES",
    "DescriptorError",
    "describe_segments",
    "describe_triangles",
    "empty_descriptor",
    "mm_per_unit",
    "polylines_to_segments",
]
