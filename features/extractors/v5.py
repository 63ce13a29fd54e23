"""Feature version v5 (retrieval): the stored shape descriptor as a standardised vector (Django-free).

The vector has three blocks, in `layout.V5_SLOTS` order:

- shape (`V5_SHAPE_SLOTS`): each raw descriptor value x becomes z = (x - mean) / max(std, STD_FLOOR), clipped
  to ±Z_CLIP, with the mean and standard deviation measured over the shared samples (`STANDARDISATION`), so
  that no slot dominates the distance; a floor keeps almost-constant slots (the tail of D2) from amplifying
  noise. Scale-free.
- size (`V5_SIZE_SLOTS`): SIZE_WEIGHT x log10 of the RMS radius and principal extents in millimetres (clipped to
  ±SIZE_LOG_CLIP decades). The small weight lets size order parts of the same shape without outweighing shape.
- `norm_completion`: sqrt(R² - |shape, size|²) with R fixed (`COMPLETION_RADIUS`), so every v5 vector has the
  same norm R. The index compares vectors by inner product on normalised vectors (cosine); with equal norms,
  cosine = 1 - |a - b|² / (2 R²), i.e. ranking by cosine *is* ranking by the Euclidean distance of the
  standardised slots, which is what the measurements favour for standardised features.

A summary stored before v5 has no descriptor: `extract_features(doc, "v5")` raises `NeedsSource` (the
original must be parsed again), never a zero-padded vector.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from features.descriptors.shape import DESCRIPTOR_SCHEMA, KIND_EMPTY, SHAPE_NAMES, SIZE_NAMES

from .layout import V5_AUXILIARY_SLOTS, V5_SHAPE_SLOTS, V5_SIZE_SLOTS

Z_CLIP = 6.0
STD_FLOOR = 0.01
SIZE_WEIGHT = 0.05
SIZE_LOG_CLIP = 12.0
SIZE_FLOOR_MM = 1e-9
SHAPE_DIM = len(V5_SHAPE_SLOTS)
SIZE_DIM = len(V5_SIZE_SLOTS)
COMPLETION_RADIUS = math.sqrt(SHAPE_DIM * Z_CLIP**2 + SIZE_DIM * (SIZE_WEIGHT * SIZE_LOG_CLIP) ** 2) + 1.0

# (mean, standard deviation) of each raw descriptor value over the 60 describable good shared samples,
# measured with `python bench/bench_retrieval.py --calibrate` (see docs/features.md).
STANDARDISATION: dict[str, tuple[float, float]] = {
    "ev_ratio_2": (0.645475, 0.255419),
    "ev_ratio_3": (0.259341, 0.320849),
    "d2_01": (0.0342101, 0.0233044),
    "d2_02": (0.0661606, 0.0291967),
    "d2_03": (0.0865827, 0.0219983),
    "d2_04": (0.100683, 0.0219684),
    "d2_05": (0.11265, 0.0249242),
    "d2_06": (0.117237, 0.0250981),
    "d2_07": (0.114396, 0.0328248),
    "d2_08": (0.1081, 0.0338778),
    "d2_09": (0.0932769, 0.0327061),
    "d2_10": (0.0698346, 0.0193514),
    "d2_11": (0.044635, 0.0123417),
    "d2_12": (0.0273789, 0.0145149),
    "d2_13": (0.0148346, 0.011715),
    "d2_14": (0.00661173, 0.00715662),
    "d2_15": (0.00261463, 0.00400724),
    "d2_16": (0.000792967, 0.00201061),
    "d1_01": (0.0395186, 0.0422584),
    "d1_02": (0.129811, 0.0728624),
    "d1_03": (0.25653, 0.0587255),
    "d1_04": (0.348478, 0.160174),
    "d1_05": (0.17844, 0.0597739),
    "d1_06": (0.0431006, 0.0398234),
    "d1_07": (0.00367026, 0.00857334),
    "d1_08": (0.000450583, 0.00261213),
    "orient_1": (0.557427, 0.18351),
    "orient_3": (0.11956, 0.127799),
    "closed": (0.533333, 0.498888),
    "log_compactness": (0.801901, 1.08801),
    "curve_set": (0.35, 0.47697),
}
assert tuple(STANDARDISATION) == SHAPE_NAMES
assert tuple(f"shape_{n}" for n in SHAPE_NAMES) == V5_SHAPE_SLOTS
assert len(SIZE_NAMES) == SIZE_DIM and len(V5_AUXILIARY_SLOTS) == 1


class NeedsSource(ValueError):
    """The stored summary has no (current) shape descriptor: v5 needs the original file parsed again."""

    def __init__(self, message: str = "the stored summary predates feature version v5: the original file must "
                                      "be parsed again", *, reason: str = "no_descriptor"):
        super().__init__(message)
        self.reason = reason


def _descriptor_of(document) -> Mapping[str, Any]:
    shape = getattr(document, "shape", None)
    if shape is None:
        raise NeedsSource()
    if shape.get("schema") != DESCRIPTOR_SCHEMA:
        raise NeedsSource(f"the stored shape descriptor has schema {shape.get('schema')!r}, v5 reads schema "
                          f"{DESCRIPTOR_SCHEMA}: the original file must be parsed again", reason="old_descriptor")
    return shape


def _finite(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def v5_vector(descriptor: Mapping[str, Any]) -> list[float]:
    """The v5 vector of one stored descriptor (`dimension("v5")` finite floats)."""
    if descriptor.get("kind") == KIND_EMPTY:
        z = [0.0] * SHAPE_DIM
    else:
        raw = descriptor.get("shape") or {}
        z = []
        for name in SHAPE_NAMES:
            mean, std = STANDARDISATION[name]
            value = (_finite(raw.get(name, mean)) - mean) / max(std, STD_FLOOR)
            z.append(min(Z_CLIP, max(-Z_CLIP, value)))
    sizes = descriptor.get("size_mm") or {}
    size = []
    for name in SIZE_NAMES:
        millimetres = _finite(sizes.get(name, 0.0))
        log = math.log10(max(millimetres, SIZE_FLOOR_MM)) if millimetres > 0.0 else 0.0
        size.append(SIZE_WEIGHT * min(SIZE_LOG_CLIP, max(-SIZE_LOG_CLIP, log)))
    squared = sum(v * v for v in z) + sum(v * v for v in size)
    completion = math.sqrt(max(0.0, COMPLETION_RADIUS**2 - squared))
    return [*z, *size, completion]


def extract_v5(document) -> list[float]:
    """v5 of a `CadDocument`; raises `NeedsSource` when its summary has no current shape descriptor."""
    return v5_vector(_descriptor_of(document))


def split_v5(values) -> tuple[np.ndarray, np.ndarray]:
    """(standardised shape block, log10 sizes in millimetres) of v5 vectors ((n, dim) or (dim,) arrays)."""
    array = np.asarray(values, dtype=np.float64)
    shape = array[..., :SHAPE_DIM]
    size = array[..., SHAPE_DIM:SHAPE_DIM + SIZE_DIM] / SIZE_WEIGHT
    return shape, size
