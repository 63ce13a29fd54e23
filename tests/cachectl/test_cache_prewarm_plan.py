"""The prewarm plan: recent hits, then recently referenced vectors, then low-dimension high-frequency entries."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from cachectl.models import CacheKeyActivity
from cachectl.selectors import cache_prewarm_plan
from tests.cachectl.conftest import make_sha
from vectors.models import Vector

pytestmark = pytest.mark.django_db


def make_hit(name: str, version: str, *, minutes_ago: float, hits: int = 1, misses: int = 0) -> str:
    """Key activity: ``hits`` hits (the last one ``minutes_ago``) and ``misses`` further lookups."""
    sha = make_sha(name)
    at = timezone.now() - timedelta(minutes=minutes_ago)
    CacheKeyActivity.objects.create(sha256=sha, version=version, hits=hits, lookups=hits + misses,
                                    last_hit_at=at if hits else None, last_lookup_at=at)
    return sha


def make_vector(key: str, version: str, *, referenced_minutes_ago: float | None, dimension: int = 12) -> None:
    Vector.objects.create(
        key=key, feature_version=version, dimension=dimension,
        values=np.zeros(dimension, dtype="<f4").tobytes(), generation=1, created_generation=1,
        last_referenced_at=None if referenced_minutes_ago is None
        else timezone.now() - timedelta(minutes=referenced_minutes_ago),
    )


def test_plan_follows_the_priority_tiers_without_duplicates():
    a = make_hit("a", "v2", minutes_ago=1)
    b = make_hit("b", "v2", minutes_ago=10)
    e = make_hit("e", "v4", minutes_ago=2 * 24 * 60, hits=100)
    f = make_hit("f", "v1", minutes_ago=2 * 24 * 60, hits=3)
    g = make_hit("g", "v1", minutes_ago=3 * 24 * 60, hits=5, misses=45)  # looked up often, hit rarely
    make_hit("h", "v2", minutes_ago=1, hits=0, misses=1)  # a recent miss is not a recent hit
    c, d = make_sha("c"), make_sha("d")
    make_vector(c, "v2", referenced_minutes_ago=1)
    make_vector(d, "v3", referenced_minutes_ago=60, dimension=22)
    make_vector(a, "v2", referenced_minutes_ago=0.5)  # already first as a recent hit
    make_vector("part-7", "v2", referenced_minutes_ago=0.1)  # client-named key: not a cached file
    make_vector(make_sha("never"), "v2", referenced_minutes_ago=None)

    plan = cache_prewarm_plan(limit=100)
    assert plan == [
        (a, "v2", "recent_hits"),
        (b, "v2", "recent_hits"),
        (c, "v2", "recently_referenced"),
        (d, "v3", "recently_referenced"),
        (g, "v1", "low_dimension_high_frequency"),
        (f, "v1", "low_dimension_high_frequency"),
        (make_sha("h"), "v2", "low_dimension_high_frequency"),
        (e, "v4", "low_dimension_high_frequency"),
    ]
    assert cache_prewarm_plan(limit=3) == plan[:3]
    assert cache_prewarm_plan(limit=5) == plan[:5]


def test_empty_plan_when_nothing_is_known():
    assert cache_prewarm_plan(limit=10) == []
