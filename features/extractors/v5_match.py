"""What a v5 similarity result is to its query: the match kind, a score in [0, 1], the scale factor (Django-free).

Distances are taken on the blocks of the v5 vector (`split_v5`): the shape distance `d_shape` is the Euclidean
distance of the standardised shape slots, the size difference is read from the log10 RMS radius slot.

- `exact`: the same content (sha256), known to the caller;
- `duplicate`: `d_shape <= SHAPE_THRESHOLD` and the sizes agree within `SIZE_TOLERANCE` (relative);
- `same_shape_other_scale`: `d_shape <= SHAPE_THRESHOLD`, sizes differ: `scale_factor` = result size / query
  size, and `unit_mismatch_suspected` when the factor is within `UNIT_TOLERANCE` of 25.4, 10, 1000 or their
  inverses (a part drawn in inches, centimetres or metres instead of millimetres);
- `similar`: everything else, and any pair where one side has no describable geometry;
- `mirror_image` (only when asked: `mirror="distinct"`): a pair that would be `duplicate` or
  `same_shape_other_scale` but whose handedness figures (`features.descriptors.shape`, carried beside the vector:
  +1/-1, 0 when undetermined) are both determined and opposite: the mirror image of the query (a left-hand part
  against a right-hand one). With the default `mirror="same"` the handedness is ignored and a mirror image is
  the same shape, as the 36 reflection-invariant slots say. `exact` is never turned into `mirror_image`.

Score: 1 / (1 + (d / SHAPE_THRESHOLD)^2) with d = sqrt(d_shape^2 + (SIZE_WEIGHT * |Δ log10 sizes|)^2), the
distance the index ranks by. It is 1 only for identical vectors, strictly decreasing in d (two results share a
score only when their vectors are the same), and 0.5 at the shape threshold for parts of the same size. The
thresholds are calibrated on the retrieval benchmark (docs/benchmarks.md, bench/bench_retrieval.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .v5 import SHAPE_DIM, SIZE_DIM, SIZE_WEIGHT, split_v5

MATCH_KINDS = ("exact", "duplicate", "same_shape_other_scale", "similar", "mirror_image")
MATCH_MODES = ("any", "duplicate", "shape")
MIRROR_MODES = ("same", "distinct")
# The request-schema rule of every search that takes `match` and `mirror` (JSON Schema anyOf): a version other
# than v5 takes only their defaults (an absent feature_version is the served version).
V5_OPTIONS_ANY_OF = (
    {"properties": {"feature_version": {"const": "v5"}}},
    {"properties": {"match": {"const": "any"}, "mirror": {"const": "same"}}},
)
# a mirror image is not "the same part" (at any size or at this size): only `any` keeps it
ACCEPTED_KINDS = {
    "any": frozenset(MATCH_KINDS),
    "shape": frozenset({"exact", "duplicate", "same_shape_other_scale"}),
    "duplicate": frozenset({"exact", "duplicate"}),
}
SHAPE_THRESHOLD = 1.0
SIZE_TOLERANCE = 0.02
UNIT_FACTORS = (25.4, 10.0, 1000.0, 1 / 25.4, 0.1, 0.001)
UNIT_TOLERANCE = 0.02
# A search re-ranks this many candidates from the index (the index ranks by the same distance; the margin lets
# `match` filters keep k results).
CANDIDATES_MIN = 32
CANDIDATES_PER_RESULT = 4


def candidate_count(k: int) -> int:
    return max(CANDIDATES_MIN, CANDIDATES_PER_RESULT * k)


@dataclass(frozen=True)
class Match:
    index: int  # position of the candidate in the input
    score: float
    kind: str
    scale_factor: float
    unit_mismatch_suspected: bool
    shape_distance: float


def handedness_of(value) -> int:
    """A stored handedness figure: +1 or -1; anything else (absent, 0, malformed) is 0, undetermined."""
    return value if type(value) is int and value in (1, -1) else 0


def unit_mismatch(scale_factor: float) -> bool:
    return any(abs(scale_factor / factor - 1.0) <= UNIT_TOLERANCE for factor in UNIT_FACTORS)


def _describable(shape_block: np.ndarray) -> np.ndarray:
    """Rows with a describable geometry (an empty descriptor has every shape slot exactly 0)."""
    return np.any(shape_block != 0.0, axis=-1)


def v5_matches(query: Sequence[float], candidates: np.ndarray, *, same_content: Sequence[bool] | None = None,
               mode: str = "any", mirror: str = "same", query_handedness: int = 0,
               handedness: Sequence[int] | None = None) -> list[Match]:
    """The candidates (an (n, dim) array of v5 vectors) accepted by `mode`, best first (then input order).
    With `mirror="distinct"`, a same-shape candidate whose `handedness` is opposite to `query_handedness` (both
    determined) is a `mirror_image`."""
    if mode not in MATCH_MODES:
        raise ValueError(f"match must be one of {MATCH_MODES}, got {mode!r}")
    if mirror not in MIRROR_MODES:
        raise ValueError(f"mirror must be one of {MIRROR_MODES}, got {mirror!r}")
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, SHAPE_DIM + SIZE_DIM + 1)
    if candidates.shape[0] == 0:
        return []
    q_shape, q_size = split_v5(np.asarray(query, dtype=np.float64))
    c_shape, c_size = split_v5(candidates)
    d_shape = np.sqrt(((c_shape - q_shape) ** 2).sum(axis=1))
    size_delta = c_size - q_size
    d = np.sqrt(d_shape**2 + (SIZE_WEIGHT**2) * (size_delta**2).sum(axis=1))
    scores = 1.0 / (1.0 + (d / SHAPE_THRESHOLD) ** 2)
    log_scale = size_delta[:, 0]  # log10 RMS radius: result / query
    describable = _describable(c_shape) & bool(_describable(q_shape))
    same = list(same_content) if same_content is not None else [False] * candidates.shape[0]
    query_hand = handedness_of(query_handedness) if mirror == "distinct" else 0
    hands = [handedness_of(h) for h in handedness] if handedness is not None else [0] * candidates.shape[0]
    out = []
    for i in np.lexsort((np.arange(candidates.shape[0]), d)).tolist():
        scale = float(10.0 ** log_scale[i])
        if same[i]:
            kind = "exact"
        elif describable[i] and d_shape[i] <= SHAPE_THRESHOLD:
            if query_hand != 0 and hands[i] == -query_hand:
                kind = "mirror_image"
            else:
                kind = "duplicate" if abs(scale - 1.0) <= SIZE_TOLERANCE else "same_shape_other_scale"
        else:
            kind = "similar"
        if kind not in ACCEPTED_KINDS[mode]:
            continue
        out.append(Match(index=i, score=float(scores[i]), kind=kind, scale_factor=scale if math.isfinite(scale)
                         else 0.0, unit_mismatch_suspected=kind == "same_shape_other_scale" and unit_mismatch(scale),
                         shape_distance=float(d_shape[i])))
    return out
