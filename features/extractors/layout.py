"""The canonical slot layout: v1 slots, then v2's, v3's and v4's additions, in this exact order.

This is the published contract. Extraction, storage, the cache, vector migration and the slot listing all
read it from here; a version's vector is always the first `dimension(version)` slots of the layout.
"""

from __future__ import annotations

from dataclasses import dataclass

GEOMETRIC = "geometric"
SEMANTIC = "semantic"


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

FEATURE_VERSIONS: tuple[str, ...] = tuple(version for version, _ in _ADDED_BY_VERSION)

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
    return SLOTS[: dimension(version)]


def slot_names(version: str) -> list[str]:
    return [slot.name for slot in slots(version)]


def slot_categories(version: str) -> list[str]:
    return [slot.category for slot in slots(version)]
