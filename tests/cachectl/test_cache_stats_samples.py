"""The cache statistics history: the beat task samples the lookups and hits of every process each minute (the
counters /metrics sums), each sample holding the interval since the previous one; old samples are pruned."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone

from cachectl.models import CacheStatsSample
from cachectl.selectors import cache_counter_totals, cache_hit_ratio_history
from cachectl.services import cache_stats_sample_take, cache_stats_samples_prune, feature_cache_get, feature_cache_put
from tests.cachectl.conftest import make_sha

pytestmark = pytest.mark.django_db


def run_beat_entry(settings, name: str):
    from cadml_site.celery import app

    importlib.import_module("cachectl.tasks")  # what the worker's autodiscovery imports

    entry = settings.CELERY_BEAT_SCHEDULE[name]
    return entry, app.tasks[entry["task"]].delay().get()


def look_up(hits: int, misses: int) -> None:
    feature_cache_put(sha256=make_sha("stats-hit"), version="v4", values=[1.0, 2.0], document_id=None)
    for _ in range(hits):
        assert feature_cache_get(sha256=make_sha("stats-hit"), version="v4") is not None
    for n in range(misses):
        assert feature_cache_get(sha256=make_sha(f"stats-miss-{n}"), version="v4") is None


def test_the_beat_task_writes_a_sample_every_minute_of_the_lookups_since_the_previous_one(settings):
    entry, first_pk = run_beat_entry(settings, "cachectl-sample-cache-stats")
    assert entry["schedule"] == 60.0
    first = CacheStatsSample.objects.get(pk=first_pk)
    assert first.since is None  # the first sample: everything since the counters started
    assert (first.lookups_total, first.hits_total) == cache_counter_totals()
    look_up(hits=3, misses=1)
    _, second_pk = run_beat_entry(settings, "cachectl-sample-cache-stats")
    second = CacheStatsSample.objects.get(pk=second_pk)
    assert (second.since, second.lookups, second.hits, second.hit_ratio) == (first.at, 4, 3, 0.75)
    assert (second.lookups_total, second.hits_total) == (first.lookups_total + 4, first.hits_total + 3)
    third = cache_stats_sample_take()
    assert (third.lookups, third.hits, third.hit_ratio) == (0, 0, None)  # no lookup: no ratio, not 0


def test_counters_lower_than_the_previous_sample_were_restarted():
    lookups, hits = cache_counter_totals()
    earlier = CacheStatsSample.objects.create(at=timezone.now() - timedelta(minutes=1), lookups=0, hits=0,
                                              lookups_total=lookups + 1000, hits_total=hits + 900)
    sample = cache_stats_sample_take()
    assert sample.since == earlier.at
    assert (sample.lookups, sample.hits) == (lookups, hits)


def test_samples_older_than_the_retention_are_pruned(settings):
    now = timezone.now()
    for days in (0, 2, 3, 10):
        CacheStatsSample.objects.create(at=now - timedelta(days=days, minutes=1), lookups=1, hits=1, hit_ratio=1.0,
                                        lookups_total=1, hits_total=1)
    settings.CADML_CACHE_STATS_RETENTION_DAYS = 3
    entry, deleted = run_beat_entry(settings, "cachectl-prune-cache-stats-samples")
    assert entry["schedule"] > 0 and deleted == 2
    assert CacheStatsSample.objects.count() == 2
    assert cache_stats_samples_prune(older_than=timedelta(hours=1)) == 1


def test_the_history_sums_the_samples_per_bucket():
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    for minute, lookups, hits in ((1, 10, 5), (2, 10, 10), (16, 0, 0), (47, 4, 1)):
        CacheStatsSample.objects.create(at=start + timedelta(minutes=minute), lookups=lookups, hits=hits,
                                        lookups_total=0, hits_total=0)
    CacheStatsSample.objects.create(at=start - timedelta(hours=1), lookups=99, hits=0, lookups_total=0,
                                    hits_total=0)  # before the window
    history = cache_hit_ratio_history(since=start, bucket=timedelta(minutes=15))
    assert [(b["at"], b["lookups"], b["hits"], b["hit_ratio"], b["samples"]) for b in history] == [
        (start, 20, 15, 0.75, 2),
        (start + timedelta(minutes=15), 0, 0, None, 1),
        (start + timedelta(minutes=45), 4, 1, 0.25, 1),
    ]
