"""`feature_cache_get` / `feature_cache_put`, the functions `features.analyze` calls: exact hit and miss counts."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from cachectl.holder import holder
from cachectl.services import feature_cache_get, feature_cache_put
from cadml_site.errors import BadRequest
from tests.cachectl.conftest import make_sha


def counters() -> tuple[float, float]:
    return (REGISTRY.get_sample_value("feature_cache_hits_total") or 0.0,
            REGISTRY.get_sample_value("feature_cache_misses_total") or 0.0)


@pytest.mark.django_db
def test_each_lookup_counts_exactly_one_hit_or_miss():
    hits0, misses0 = counters()
    sha = make_sha(1)
    assert feature_cache_get(sha256=sha, version="v2") is None
    feature_cache_put(sha256=sha, version="v2", values=[1.0, 2.5, 3], document_id=7)
    for _ in range(3):
        assert feature_cache_get(sha256=sha, version="v2") == {"values": [1.0, 2.5, 3.0], "document_id": 7}
    assert feature_cache_get(sha256=sha, version="v3") is None  # another version is another key
    hits, misses = counters()
    assert (hits - hits0, misses - misses0) == (3, 2)
    stats = holder.cache().stats()
    assert (stats.hits, stats.misses) == (3, 2)


@pytest.mark.django_db
def test_returned_values_are_copies():
    sha = make_sha(2)
    feature_cache_put(sha256=sha, version="v1", values=[1.0, 2.0], document_id=None)
    first = feature_cache_get(sha256=sha, version="v1")
    first["values"].append(99.0)
    assert feature_cache_get(sha256=sha, version="v1") == {"values": [1.0, 2.0], "document_id": None}


@pytest.mark.django_db
@pytest.mark.parametrize("sha256, version", [
    ("not-a-sha", "v1"),
    (make_sha(3).upper(), "v1"),
    (make_sha(3), ""),
    (make_sha(3), "v1/../x"),
    (None, "v1"),
])
def test_bad_keys_are_rejected_without_counting(sha256, version):
    hits0, misses0 = counters()
    with pytest.raises(BadRequest) as excinfo:
        feature_cache_get(sha256=sha256, version=version)
    assert excinfo.value.code == "invalid_cache_key"
    assert counters() == (hits0, misses0)


@pytest.mark.django_db
@pytest.mark.parametrize("values, document_id", [
    ([], 1),
    ([float("nan")], 1),
    ([float("inf"), 1.0], 1),
    (["a"], 1),
    ("1,2,3", 1),
    ([1.0], "7"),
    ([1.0], True),
])
def test_bad_entries_are_rejected(values, document_id):
    with pytest.raises(BadRequest) as excinfo:
        feature_cache_put(sha256=make_sha(4), version="v1", values=values, document_id=document_id)
    assert excinfo.value.code == "invalid_cache_entry"
