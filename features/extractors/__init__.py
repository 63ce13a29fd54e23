"""Feature extraction (Django-free): versions v1..v4 over one canonical slot layout, and v5 (retrieval) from\nthe stored shape descriptor."""

from .compute import extract_features, shape_entropy, surface_count, top_kind_shares
from .layout import (
    FEATURE_VERSIONS,
    AUXILIARY,
    GEOMETRIC,
    PREFIX_VERSIONS,
    SEMANTIC,
    SHAPE,
    SIZE,
    SLOTS,
    V5_SLOTS,
    Slot,
    UnknownFeatureVersion,
    check_version,
    dimension,
    slot_categories,
    slot_names,
    slots,
)
from .v5 import NeedsSource, split_v5, v5_vector

__all__ = [
    "AUXILIARY",
    "NeedsSource",
    "PREFIX_VERSIONS",
    "SHAPE",
    "SIZE",
    "V5_SLOTS",
    "split_v5",
    "v5_vector",
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
