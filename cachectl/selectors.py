"""Reads: current settings, the rollback window, status, history and the prewarm plan."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from cachectl.holder import CacheSettingsState, holder
from cachectl.models import CacheKeyActivity, CacheSettings, CacheSettingsChange, CacheSnapshot, CacheStatsSample
from cadml_site.metrics import process_metrics_registry

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
RECENT_CHANGES = 10

TIER_RECENT_HITS = "recent_hits"
TIER_RECENTLY_REFERENCED = "recently_referenced"
TIER_LOW_DIMENSION_HIGH_FREQUENCY = "low_dimension_high_frequency"
PREWARM_TIERS = (TIER_RECENT_HITS, TIER_RECENTLY_REFERENCED, TIER_LOW_DIMENSION_HIGH_FREQUENCY)


def cache_settings_defaults() -> dict:
    return {"capacity": settings.CADML_CACHE_CAPACITY, "ttl_seconds": settings.CADML_CACHE_TTL_SECONDS,
            "policy": settings.CADML_CACHE_POLICY}


def cache_settings_state() -> CacheSettingsState:
    """The settings every process converges on (the environment defaults until the first change)."""
    row = (CacheSettings.objects.filter(pk=CacheSettings.SINGLETON_ID)
           .values_list("capacity", "ttl_seconds", "policy", "generation", "prewarm_generation").first())
    if row is None:
        return CacheSettingsState(**cache_settings_defaults(), generation=0, prewarm_generation=0)
    return CacheSettingsState(*row)


def cache_window_change() -> CacheSettingsChange | None:
    """The change whose rollback window is unresolved (open, or past its deadline but not yet confirmed)."""
    return (CacheSettingsChange.objects.filter(outcome=CacheSettingsChange.Outcome.OPEN)
            .select_related("snapshot").order_by("-created_at", "-id").first())


def window_dict(change: CacheSettingsChange, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    seconds_left = max(0.0, (change.deadline - now).total_seconds())
    return {
        "change_id": change.pk,
        "kind": change.kind,
        "opened_at": change.created_at,
        "deadline": change.deadline,
        "seconds_left": round(seconds_left, 3),
        "expired": seconds_left <= 0,
        "age_seconds": round((now - change.created_at).total_seconds(), 3),
        "before": change.before,
        "after": change.after,
        "actor": change.actor,
    }


def cache_rollback_window() -> dict | None:
    change = cache_window_change()
    return window_dict(change) if change is not None else None


def cache_rollback_window_age_seconds() -> float:
    """Seconds since the unresolved rollback window opened (0 when none): the "open too long" gauge."""
    change = cache_window_change()
    if change is None:
        return 0.0
    return max(0.0, (timezone.now() - change.created_at).total_seconds())


def cache_recent_changes(*, limit: int = RECENT_CHANGES) -> list[CacheSettingsChange]:
    return list(CacheSettingsChange.objects.order_by("-created_at", "-id")[:limit])


def cache_snapshot_list() -> QuerySet[CacheSnapshot]:
    return CacheSnapshot.objects.order_by("-created_at", "-id")


def cache_process_stats() -> dict:
    """Statistics of this process's cache tiers."""
    cache = holder.cache()
    stats = cache.stats().as_dict()
    shared = holder.shared_tier()
    lookups = stats["hits"] + stats["misses"]
    hits = stats["hits"] + holder.shared_hits
    stats.update({
        "pid": os.getpid(),
        "settings_generation": holder.generation,
        "prewarm_generation": holder.prewarm_generation,
        "shared_tier_hits": holder.shared_hits,
        "overall_hit_ratio": hits / lookups if lookups else None,
        "shared_tier": shared.status() if shared is not None else {"configured": False},
    })
    return stats


def cache_status() -> dict:
    state = cache_settings_state()
    return {
        "settings": {**state.settings_dict(), "generation": state.generation,
                     "prewarm_generation": state.prewarm_generation},
        "bounds": cache_settings_bounds(),
        "stats": cache_process_stats(),
        "rollback_window": cache_rollback_window(),
        "rollback_window_seconds": settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS,
        "recent_changes": cache_recent_changes(),
    }


def cache_settings_bounds() -> dict:
    return {"capacity": {"min": 1, "max": settings.CADML_CACHE_MAX_CAPACITY},
            "ttl_seconds": {"min": 1, "max": settings.CADML_CACHE_MAX_TTL_SECONDS}}


# -- statistics over every process ---------------------------------------------------------------------
def cache_counter_totals() -> tuple[int, int]:
    """``(lookups, hits)`` counted by ``feature_cache_get`` so far, summed over every process the way ``/metrics``
    sums them (the workers sharing ``PROMETHEUS_MULTIPROC_DIR``; this process alone without one)."""
    registry = process_metrics_registry()
    hits = int(registry.get_sample_value("feature_cache_hits_total") or 0)
    misses = int(registry.get_sample_value("feature_cache_misses_total") or 0)
    return hits + misses, hits


def cache_hit_ratio_history(*, since: datetime, bucket: timedelta) -> list[dict]:
    """The samples since ``since`` summed per ``bucket`` (aligned on UTC multiples of it), oldest first:
    ``{"at": bucket start, "lookups", "hits", "hit_ratio" (None without lookups), "samples"}``."""
    width = bucket.total_seconds()
    buckets: dict[datetime, dict] = {}
    rows = (CacheStatsSample.objects.filter(at__gte=since).order_by("at", "id")
            .values_list("at", "lookups", "hits"))
    for at, lookups, hits in rows:
        start = datetime.fromtimestamp(at.timestamp() // width * width, tz=at.tzinfo)
        total = buckets.setdefault(start, {"at": start, "lookups": 0, "hits": 0, "samples": 0})
        total["lookups"] += lookups
        total["hits"] += hits
        total["samples"] += 1
    for total in buckets.values():
        total["hit_ratio"] = total["hits"] / total["lookups"] if total["lookups"] else None
    return list(buckets.values())


# -- prewarm plan ------------------------------------------------------------------------------------
RECENT_HIT_WINDOW = timedelta(hours=1)


def _recent_hit_keys(limit: int) -> list[tuple[str, str]]:
    """Keys served from the cache in the last hour (any process), most recent first."""
    rows = (CacheKeyActivity.objects.filter(last_hit_at__gte=timezone.now() - RECENT_HIT_WINDOW)
            .order_by("-last_hit_at", "-hits", "id").values_list("sha256", "version"))
    return list(rows[:limit])


def _recently_referenced_keys(limit: int) -> list[tuple[str, str]]:
    """Vectors of analysed files (key = sha256) last used as a similarity query or result, most recent first."""
    from vectors.selectors import recently_referenced_keys

    rows = recently_referenced_keys(limit=limit * 2)
    return [(key, version) for key, version in rows if SHA256_RE.match(key)][:limit]


def _version_dimension(version: str) -> int:
    from vectors.errors import UnknownFeatureVersion
    from vectors.validation import checked_version

    try:
        return checked_version(version)
    except UnknownFeatureVersion:  # unknown_feature_version: a version no longer known sorts last
        return 1 << 30


def _low_dimension_high_frequency_keys(limit: int) -> list[tuple[str, str]]:
    """The lookup history (a week, hits and misses): smallest feature dimension first, then most lookups."""
    versions = sorted(CacheKeyActivity.objects.order_by().values_list("version", flat=True).distinct(),
                      key=lambda version: (_version_dimension(version), version))
    keys: list[tuple[str, str]] = []
    for version in versions:
        rows = (CacheKeyActivity.objects.filter(version=version)
                .order_by("-lookups", "-last_lookup_at", "id")
                .values_list("sha256", "version"))
        keys.extend(rows[: limit - len(keys)])
        if len(keys) >= limit:
            break
    return keys


def cache_prewarm_plan(*, limit: int) -> list[tuple[str, str, str]]:
    """Up to ``limit`` distinct ``(sha256, version, tier)`` in priority order: recent hits, then recently
    referenced vectors, then low-dimension high-frequency entries."""
    plan: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    sources = (
        (TIER_RECENT_HITS, _recent_hit_keys),
        (TIER_RECENTLY_REFERENCED, _recently_referenced_keys),
        (TIER_LOW_DIMENSION_HIGH_FREQUENCY, _low_dimension_high_frequency_keys),
    )
    for tier, source in sources:
        if len(plan) >= limit:
            break
        for sha256, version in source(limit - len(plan) + len(seen)):
            if (sha256, version) in seen:
                continue
            seen.add((sha256, version))
            plan.append((sha256, version, tier))
            if len(plan) >= limit:
                break
    return plan
