"""Key activity: each process's hits and lookups per key (flushed by the holder), the prewarm plan's history."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cachectl.models import CacheKeyActivity
from cachectl.selectors import SHA256_RE
from cachectl.services.entries import VERSION_RE

KEY_ACTIVITY_RETENTION = timedelta(days=7)


def cache_key_activity_record(*, activity: dict) -> int:
    """Adds one process's ``(hits, lookups)`` per key (flushed by the holder every few seconds)."""
    now = timezone.now()
    clean = {key: counts for key, counts in activity.items()
             if isinstance(key, tuple) and len(key) == 2 and SHA256_RE.match(str(key[0]))
             and isinstance(key[1], str) and VERSION_RE.match(key[1])}
    if not clean:
        return 0
    shas = sorted({key[0] for key in clean})
    with transaction.atomic():
        existing = {}
        for start in range(0, len(shas), 500):  # stay far below SQLite's bound-parameter limit
            rows = (CacheKeyActivity.objects.select_for_update().filter(sha256__in=shas[start:start + 500])
                    .order_by("sha256", "version"))  # one lock order in every process: no deadlock
            for row in rows:
                existing[(row.sha256, row.version)] = row
        updated, created = [], []
        for (sha256, version), (hits, lookups) in clean.items():
            row = existing.get((sha256, version))
            if row is None:
                row = CacheKeyActivity(sha256=sha256, version=version, hits=0, lookups=0, last_lookup_at=now)
                created.append(row)
            else:
                updated.append(row)
            row.hits += hits
            row.lookups += lookups
            row.last_lookup_at = now
            if hits:
                row.last_hit_at = now
        if updated:
            CacheKeyActivity.objects.bulk_update(updated, ["hits", "lookups", "last_hit_at", "last_lookup_at"],
                                                 batch_size=500)
        if created:
            CacheKeyActivity.objects.bulk_create(created, ignore_conflicts=True, batch_size=500)
    return len(clean)


def cache_key_activity_prune(*, older_than: timedelta = KEY_ACTIVITY_RETENTION) -> int:
    deleted, _ = CacheKeyActivity.objects.filter(last_lookup_at__lt=timezone.now() - older_than).delete()
    return deleted
