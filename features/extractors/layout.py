"""The slot layouts of every feature version. This is the published contract.

v1..v4 share one canonical layout: v1 slots, then v2's, v3's and v4's additions, in this exact order; each
of those versions' vector is the first `dimension(version)` slots of it (`SLOTS`).

v5 (retrieval) has a layout of its own (`V5_SLOTS`), not a prefix of the canonical one: standardised
scale-free shape slots, a few size slots, and one norm-completion slot (see `features.extractors.v5`).
Extraction, storage, the cache, vector migration and the slot listing all read the layouts from here.
"""

from __future__ import annotations

from dataclasses import dataclass

GEOMETRIC = "geometric"
SEMANTIC = "semantic"
SHAPE = "shape"
SIZE = "size"
AUXILIARY = "auxiliary"


@dataclass(frozen=True)
class Slot:
    name: str
    category: str
    version: str  # the version that introduced the slot
    index: int


_ADDED_BY_VERSION: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "v1",
        (
            ("entity_count", GEOMETRIC),
            ("bbox_width", GEOMETRIC),
            ("bbox_height", GEOMETRIC),
            ("bbox_depth", GEOMETRIC),
            ("bbox_volume_estimate", GEOMETRIC),
            ("layer_count", GEOMETRIC),
            ("complexity_high_flag", GEOMETRIC),
        ),
    ),
    (
        "v2",
        (
            ("norm_width", GEOMETRIC),
            ("norm_height", GEOMETRIC),
            ("norm_depth", GEOMETRIC),
            ("width_height_ratio", GEOMETRIC),
            ("width_depth_ratio", GEOMETRIC),
        ),
    ),
    (
        "v3",
        (
            ("solids_count", GEOMETRIC),
            ("facets_count", GEOMETRIC),
            ("avg_volume_per_entity", GEOMETRIC),
            ("solids_ratio", GEOMETRIC),
            ("facets_ratio", GEOMETRIC),
            ("top_kind_freq_1", GEOMETRIC),
            ("top_kind_freq_2", GEOMETRIC),
            ("top_kind_freq_3", GEOMETRIC),
            ("top_kind_freq_4", GEOMETRIC),
            ("top_kind_freq_5", GEOMETRIC),
        ),
    ),
    (
        "v4",
        (
            ("surface_count", SEMANTIC),
            ("shape_entropy", SEMANTIC),
        ),
    ),
)

PREFIX_VERSIONS: tuple[str, ...] = tuple(version for version, _ in _ADDED_BY_VERSION)

# v5: the standardised shape descriptor (names from features.descriptors.shape.SHAPE_NAMES), size slots, and the
# norm-completion slot. Kept literal here so that the contract reads in one place; a test checks it against the
# descriptor's names.
V5_SHAPE_SLOTS: tuple[str, ...] = (
    "shape_ev_ratio_2",
    "shape_ev_ratio_3",
    *(f"shape_d2_{i:02d}" for i in range(1, 17)),
    *(f"shape_d1_{i:02d}" for i in range(1, 9)),
    "shape_orient_1",
    "shape_orient_3",
    "shape_closed",
    "shape_log_compactness",
    "shape_curve_set",
)
V5_SIZE_SLOTS: tuple[str, ...] = (
    "size_log10_rms_radius_mm",
    "size_log10_extent_1_mm",
    "size_log10_extent_2_mm",
    "size_log10_extent_3_mm",
)
V5_AUXILIARY_SLOTS: tuple[str, ...] = ("norm_completion",)

V5_SLOTS: tuple[Slot, ...] = tuple(
    Slot(name=name, category=category, version="v5", index=index)
    for index, (name, category) in enumerate(
        [(n, SHAPE) for n in V5_SHAPE_SLOTS] + [(n, SIZE) for n in V5_SIZE_SLOTS]
        + [(n, AUXILIARY) for n in V5_AUXILIARY_SLOTS]
    )
)

FEATURE_VERSIONS: tuple[str, ...] = (*PREFIX_VERSIONS, "v5")

SLOTS: tuple[Slot, ...] = tuple(
    Slot(name=name, category=category, version=version, index=index)
    for index, (version, name, category) in enumerate(
        (version, name, category)
        for version, added in _ADDED_BY_VERSION
        for name, category in added
    )
)

_DIMENSIONS: dict[str, int] = {}
_running = 0
for _version, _added in _ADDED_BY_VERSION:
    _running += len(_added)
    _DIMENSIONS[_version] = _running
del _running, _version, _added
_DIMENSIONS["v5"] = len(V5_SLOTS)


class UnknownFeatureVersion(ValueError):
    def __init__(self, version: object):
        super().__init__(f"unknown feature version {version!r}; known: {', '.join(FEATURE_VERSIONS)}")
        self.version = version


def check_version(version: str) -> str:
    if version not in _DIMENSIONS:
        raise UnknownFeatureVersion(version)
    return version


def dimension(version: str) -> int:
    return _DIMENSIONS[check_version(version)]


def slots(version: str) -> tuple[Slot, ...]:
    if check_version(version) == "v5":
        return V5_SLOTS
    return SLOTS[: dimension(version)]


def slot_names(version: str) -> list[str]:
    return [slot.name for slot in slots(version)]


def slot_categories(version: str) -> list[str]:
    return [slot.category for slot in slots(version)]
