"""Length units a CAD file may declare, as millimetres per unit (Django-free).

STEP and IGES lengths arrive in millimetres (OpenCASCADE converts them to its session unit). DXF declares
`$INSUNITS`; STL and OBJ declare nothing, so their coordinates are taken as millimetres and the descriptor
says the unit was assumed.
"""

from __future__ import annotations

MM_PER_UNIT: dict[str, float] = {
    "mm": 1.0,
    "cm": 10.0,
    "dm": 100.0,
    "m": 1000.0,
    "dam": 10_000.0,
    "hm": 100_000.0,
    "km": 1_000_000.0,
    "in": 25.4,
    "ft": 304.8,
    "yd": 914.4,
    "mi": 1_609_344.0,
    "mil": 0.0254,
    "uin": 0.0000254,
    "um": 0.001,
    "nm": 0.000001,
    "angstrom": 0.0000001,
}


def mm_per_unit(units: str | None) -> tuple[float, bool]:
    """(millimetres per file unit, assumed): unknown or missing units are taken as millimetres."""
    if units in MM_PER_UNIT:
        return MM_PER_UNIT[units], False
    return 1.0, True
