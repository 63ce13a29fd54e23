"""The cache statistics history: a sample of the counters over every process each minute, pruned after the
retention (``CADML_CACHE_STATS_RETENTION_DAYS``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from cachectl.models import CacheStatsSample
from cachectl.selectors import cache_counter_totals


def cache_stats_sample_take(*, now: datetime | None = None) -> CacheStatsSample:
    """Stores the lookups and hits since the previous sample. Counters lower than the previous sample's were
    restarted (workers restarted with an emptied multiprocess directory): the interval then counts what they hold,
    as Prometheus' ``increase()`` does."""
    now = now or timezone.now()
    lookups_total, hits_total = cache_counter_totals()
    previous = CacheStatsSample.objects.order_by("-at", "-id").first()
    restarted = previous is None or lookups_total < previous.lookups_total or hits_total < previous.hits_total
    lookups = lookups_total if restarted else lookups_total - previous.lookups_total
    hits = hits_total if restarted else hits_total - previous.hits_total
    return CacheStatsSample.objects.create(
        at=now, since=previous.at if previous else None, lookups=lookups, hits=hits,
        hit_ratio=hits / lookups if lookups else None, lookups_total=lookups_total, hits_total=hits_total)


def cache_stats_samples_prune(*, older_than: timedelta | None = None) -> int:
    """Deletes the samples older than the retention; returns how many."""
    if older_than is None:
        older_than = timedelta(days=settings.CADML_CACHE_STATS_RETENTION_DAYS)
    deleted, _ = CacheStatsSample.objects.filter(at__lt=timezone.now() - older_than).delete()
    return deleted
