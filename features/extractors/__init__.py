"""Feature extraction (Django-free): versions v1..v4 over one canonical slot layout."""

from .compute import extract_features, shape_entropy, surface_count, top_kind_shares
from .layout import (
    FEATURE_VERSIONS,
    GEOMETRIC,
    SEMANTIC,
    SLOTS,
    Slot,
    UnknownFeatureVersion,
    check_version,
    dimension,
    slot_categories,
    slot_names,
    slots,
)

__all__ = [
    "FEATURE_VERSIONS",
    "GEOMETRIC",
    "SEMANTIC",
    "SLOTS",
    "Slot",
    "UnknownFeatureVersion",
    "check_version",
    "dimension",
    "extract_features",
    "shape_entropy",
    "slot_categories",
    "slot_names",
    "slots",
    "surface_count",
    "top_kind_shares",
]
