"""Feature versions v1-v4: the published slot layout, exact values, entropy and surface_count priority."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.extractors import (
    PREFIX_VERSIONS as FEATURE_VERSIONS,
    SLOTS,
    UnknownFeatureVersion,
    dimension,
    extract_features,
    shape_entropy,
    slot_categories,
    slot_names,
    surface_count,
    top_kind_shares,
)
from features.parsers.document import CadDocument

V1 = ["entity_count", "bbox_width", "bbox_height", "bbox_depth", "bbox_volume_estimate", "layer_count",
      "complexity_high_flag"]
V2 = ["norm_width", "norm_height", "norm_depth", "width_height_ratio", "width_depth_ratio"]
V3 = ["solids_count", "facets_count", "avg_volume_per_entity", "solids_ratio", "facets_ratio",
      "top_kind_freq_1", "top_kind_freq_2", "top_kind_freq_3", "top_kind_freq_4", "top_kind_freq_5"]
V4 = ["surface_count", "shape_entropy"]


def doc(**overrides) -> CadDocument:
    fields = dict(format="step", parser="occt", entity_count=10, entity_kinds={"FACE": 6, "EDGE": 4},
                  bbox=((0, 0, 0), (4, 2, 1)), solids=1, faces=6, edges=4)
    fields.update(overrides)
    return CadDocument(**fields)


def test_published_layout_names_order_and_lengths():
    assert FEATURE_VERSIONS == ("v1", "v2", "v3", "v4")
    assert slot_names("v1") == V1
    assert slot_names("v2") == V1 + V2
    assert slot_names("v3") == V1 + V2 + V3
    assert slot_names("v4") == V1 + V2 + V3 + V4
    assert [dimension(v) for v in FEATURE_VERSIONS] == [7, 12, 22, 24]
    assert slot_categories("v4") == ["geometric"] * 22 + ["semantic"] * 2
    assert [s.index for s in SLOTS] == list(range(24))
    assert [s.version for s in SLOTS] == ["v1"] * 7 + ["v2"] * 5 + ["v3"] * 10 + ["v4"] * 2


def test_each_version_is_a_prefix_of_the_next():
    document = doc()
    full = extract_features(document, "v4")
    for version in FEATURE_VERSIONS:
        assert extract_features(document, version) == full[: dimension(version)]


def test_exact_values():
    values = dict(zip(slot_names("v4"), extract_features(doc(volume=5.0, layers={"a": 1, "b": 2}), "v4")))
    assert values["entity_count"] == 10
    assert (values["bbox_width"], values["bbox_height"], values["bbox_depth"]) == (4, 2, 1)
    assert values["bbox_volume_estimate"] == 8
    assert values["layer_count"] == 2
    assert values["complexity_high_flag"] == 0
    assert (values["norm_width"], values["norm_height"], values["norm_depth"]) == (1, 0.5, 0.25)
    assert values["width_height_ratio"] == 2 and values["width_depth_ratio"] == 4
    assert values["solids_count"] == 1 and values["facets_count"] == 0
    assert values["avg_volume_per_entity"] == 0.5  # known volume 5 over 10 entities
    assert values["solids_ratio"] == 0.1 and values["facets_ratio"] == 0
    assert [values[f"top_kind_freq_{i}"] for i in range(1, 6)] == [0.6, 0.4, 0, 0, 0]
    assert values["surface_count"] == 6  # FACE is surface-like


def test_complexity_flag_threshold():
    assert extract_features(doc(entity_count=499, entity_kinds={"LINE": 499}), "v1")[6] == 0
    assert extract_features(doc(entity_count=500, entity_kinds={"LINE": 500}), "v1")[6] == 1


def test_avg_volume_falls_back_to_bbox_volume():
    values = dict(zip(slot_names("v3"), extract_features(doc(volume=None), "v3")))
    assert values["avg_volume_per_entity"] == pytest.approx(0.8)


def test_top_kinds_ordered_by_count_then_name_and_padded():
    assert top_kind_shares({"B": 2, "A": 2, "C": 4}) == [0.5, 0.25, 0.25, 0.0, 0.0]
    shares = top_kind_shares({k: 1 for k in "FEDCBA"})
    assert shares == [1 / 6] * 5


def test_entropy_laplace_smoothed_and_normalised():
    assert shape_entropy({}) == 0.0
    assert shape_entropy({"LINE": 50}) == 0.0  # K = 1
    assert shape_entropy({"A": 5, "B": 5}) == pytest.approx(1.0)
    counts = {"A": 8, "B": 1, "C": 1}
    n, k = 10, 3
    p = [(c + 1) / (n + k) for c in counts.values()]
    expected = -sum(x * math.log(x) for x in p) / math.log(k)
    assert shape_entropy(counts) == pytest.approx(expected)
    assert 0.0 <= shape_entropy({"A": 10**9, "B": 1}) <= 1.0


def test_surface_count_priority():
    # 1. explicit metadata wins
    assert surface_count(doc(metadata={"surfaces": 42})) == 42
    # 2. surface-like kinds (FACE, FACET, 3DFACE, *SURFACE, ...)
    kinds = {"3DFACE": 3, "PLANESURFACE": 2, "LINE": 5}
    assert surface_count(doc(entity_count=10, entity_kinds=kinds, facets=99, solids=7)) == 5
    # 3. facets when no kind is surface-like
    assert surface_count(doc(entity_count=4, entity_kinds={"LINE": 4}, facets=12, solids=7)) == 12
    # 4. solids last
    assert surface_count(doc(entity_count=4, entity_kinds={"LINE": 4}, facets=0, solids=7)) == 7
    # invalid metadata is ignored, not trusted
    assert surface_count(doc(metadata={"surfaces": "many"})) == 6


@pytest.mark.parametrize(
    "overrides",
    [
        {"bbox": None},
        {"bbox": ((0, 0, 0), (0, 0, 0))},
        {"bbox": ((-3e38, -3e38, -3e38), (3e38, 3e38, 3e38)), "volume": 1e300},
        {"entity_count": 0, "entity_kinds": {}, "bbox": ((0, 0, 0), (1e-300, 5, 0))},
    ],
)
def test_never_nan_or_inf_even_in_float32(overrides):
    for version in FEATURE_VERSIONS:
        values = extract_features(doc(**overrides), version)
        assert len(values) == dimension(version)
        assert all(math.isfinite(v) for v in values)
        assert np.isfinite(np.asarray(values, dtype=np.float32)).all()


def test_accepts_a_stored_summary_dict():
    document = doc()
    assert extract_features(document.to_dict(), "v2") == extract_features(document, "v2")


def test_unknown_version_is_refused():
    with pytest.raises(UnknownFeatureVersion):
        extract_features(doc(), "v6")
    with pytest.raises(UnknownFeatureVersion):
        slot_names("V4")
