"""End to end with the features app: the second analyze of the same content is a cache hit, counted once."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from analysis.services import analysis_create


def counters() -> tuple[float, float]:
    return (REGISTRY.get_sample_value("feature_cache_hits_total") or 0.0,
            REGISTRY.get_sample_value("feature_cache_misses_total") or 0.0)


@pytest.mark.django_db
def test_second_analyze_is_a_hit_and_each_lookup_counts_once(cad_samples_dir):
    data = (cad_samples_dir / "stl" / "trimesh__20mm-xyz-cube.stl").read_bytes()
    hits0, misses0 = counters()
    first = analysis_create(data=data, name="cube.stl", feature_version="v2", register_vector=False,
                            classify=False)
    second = analysis_create(data=data, name="cube-again.stl", feature_version="v2", register_vector=False,
                             classify=False)
    assert first.sections["cache"] == {"hit": False}
    assert second.sections["cache"] == {"hit": True}
    assert second.values == first.values
    hits, misses = counters()
    assert (hits - hits0, misses - misses0) == (1, 1)
