"""Feature computation from a `CadDocument` summary, one function per version's added slots.

Each function returns exactly the slots its version adds, in layout order; `extract_features` chains them
up to the requested version. Every value passes `_finite`: NaN becomes 0 and magnitudes are clamped to
±VALUE_LIMIT so that a vector stays finite even when stored as float32.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from features.parsers.document import CadDocument

from .layout import PREFIX_VERSIONS, UnknownFeatureVersion, dimension
from .v5 import extract_v5

VALUE_LIMIT = 1e30
COMPLEXITY_HIGH_ENTITIES = 500
TOP_KINDS = 5
SURFACE_KINDS = frozenset({"FACE", "FACET", "SURFACE", "PATCH", "TRIANGLE", "3DFACE", "MESH_FACE", "POLYFACE"})
SURFACE_SUFFIXES = ("SURFACE", "_FACE")


def _finite(value: float) -> float:
    if value != value:  # NaN
        return 0.0
    if value > VALUE_LIMIT:
        return VALUE_LIMIT
    if value < -VALUE_LIMIT:
        return -VALUE_LIMIT
    return float(value)


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or not math.isfinite(denominator):
        return 0.0
    return _finite(numerator / denominator)


def _v1(doc: CadDocument) -> list[float]:
    width, height, depth = doc.bbox_size
    return [
        float(doc.entity_count),
        width,
        height,
        depth,
        width * height * depth,
        float(len(doc.layers)),
        1.0 if doc.entity_count >= COMPLEXITY_HIGH_ENTITIES else 0.0,
    ]


def _v2(doc: CadDocument) -> list[float]:
    width, height, depth = doc.bbox_size
    largest = max(width, height, depth)
    return [
        _ratio(width, largest),
        _ratio(height, largest),
        _ratio(depth, largest),
        _ratio(width, height),
        _ratio(width, depth),
    ]


def top_kind_shares(kinds: Mapping[str, int], top: int = TOP_KINDS) -> list[float]:
    """Shares of the `top` most common kinds, ordered by count (desc) then name; zero-padded."""
    total = sum(kinds.values())
    ranked = sorted(((-count, name) for name, count in kinds.items() if count > 0))[:top]
    shares = [_ratio(-negative, total) for negative, _ in ranked]
    return shares + [0.0] * (top - len(shares))


def _v3(doc: CadDocument) -> list[float]:
    width, height, depth = doc.bbox_size
    volume = doc.volume if doc.volume is not None else width * height * depth
    return [
        float(doc.solids),
        float(doc.facets),
        _ratio(volume, doc.entity_count),
        _ratio(doc.solids, doc.entity_count),
        _ratio(doc.facets, doc.entity_count),
        *top_kind_shares(doc.entity_kinds),
    ]


def is_surface_kind(kind: str) -> bool:
    upper = kind.upper()
    return upper in SURFACE_KINDS or upper.endswith(SURFACE_SUFFIXES)


def surface_count(doc: CadDocument) -> float:
    """Explicit `surfaces` metadata → surface-like entity kinds → facets → solids → 0."""
    explicit = doc.metadata.get("surfaces")
    is_number = isinstance(explicit, (int, float)) and not isinstance(explicit, bool)
    if is_number and math.isfinite(explicit) and explicit >= 0:
        return float(explicit)
    surface_like = sum(count for kind, count in doc.entity_kinds.items() if is_surface_kind(kind))
    if surface_like > 0:
        return float(surface_like)
    if doc.facets > 0:
        return float(doc.facets)
    return float(doc.solids)


def shape_entropy(kinds: Mapping[str, int]) -> float:
    """Laplace-smoothed Shannon entropy of the kind distribution, normalised by ln K, in [0, 1]."""
    counts = [count for count in kinds.values() if count > 0]
    k = len(counts)
    if k <= 1:
        return 0.0
    total = sum(counts) + k
    entropy = -sum((c + 1) / total * math.log((c + 1) / total) for c in counts)
    return min(1.0, max(0.0, entropy / math.log(k)))


def _v4(doc: CadDocument) -> list[float]:
    return [surface_count(doc), shape_entropy(doc.entity_kinds)]


_ADDERS: tuple[tuple[str, Callable[[CadDocument], list[float]]], ...] = (
    ("v1", _v1),
    ("v2", _v2),
    ("v3", _v3),
    ("v4", _v4),
)
assert tuple(v for v, _ in _ADDERS) == PREFIX_VERSIONS


def extract_features(document: CadDocument | Mapping[str, Any], version: str) -> list[float]:
    """The feature vector of `document` for `version`: `dimension(version)` finite floats, layout order.

    v5 is read from the shape descriptor stored in the summary; a summary without one raises `NeedsSource`.
    """
    size = dimension(version)  # raises UnknownFeatureVersion
    if not isinstance(document, CadDocument):
        document = CadDocument.from_dict(document)
    if version == "v5":
        values = extract_v5(document)
        if len(values) != size:
            raise AssertionError(f"v5: computed {len(values)} values for {size} slots")
        return values
    values: list[float] = []
    for added_by, adder in _ADDERS:
        values.extend(adder(document))
        if added_by == version:
            break
    values = [_finite(v) for v in values]
    if len(values) != size:  # the layout and the adders disagree: a programming error
        raise AssertionError(f"{version}: computed {len(values)} values for {size} slots")
    return values


__all__ = ["extract_features", "UnknownFeatureVersion", "shape_entropy", "surface_count", "top_kind_shares"]
