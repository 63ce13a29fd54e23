"""Prewarm: load the plan's entries (recent hits, recently referenced vectors, frequent low-dimension keys)
from the stored features into this process and the shared tier; every other process replays the same run."""

from __future__ import annotations

import logging

from django.db import transaction

from cachectl import selectors
from cachectl.holder import holder
from cachectl.models import CachePrewarmRun
from cachectl.services.entries import clean_entry
from cachectl.services.settings_row import audit_record, check_bound, locked_settings
from cadml_site.metrics import FEATURE_CACHE_PREWARM_TOTAL

logger = logging.getLogger("cadml.cachectl")

MAX_PREWARM_LIMIT = 100_000
PROGRESS_EVERY = 1000


def _stored_entry(sha256: str, version: str) -> tuple[tuple[float, ...], int | None] | None:
    from features.selectors import stored_features

    stored = stored_features(sha256=sha256, version=version)
    if stored is None:
        return None
    return clean_entry(stored["values"], stored.get("document_id"))


def _load_entries(entries: list, *, write_shared: bool, progress=None, should_stop=None) -> dict:
    """Loads ``[(sha256, version, tier), ...]`` from the stored features into this process's cache.

    ``loaded`` counts entries resident at the end (the admission filter may refuse an entry when the cache is
    already full of more popular ones: that is ``skipped``, as are entries already cached or never stored).
    """
    cache = holder.cache()
    shared = holder.shared_tier() if write_shared else None
    counts = {"loaded": 0, "skipped": 0, "failed": 0}
    put: list[tuple[str, str]] = []
    for done, (sha256, version, _tier) in enumerate(entries):
        if should_stop is not None and should_stop():
            counts["skipped"] += len(entries) - done
            break
        if progress is not None and done and done % PROGRESS_EVERY == 0:
            progress(done, len(entries))
        key = (sha256, version)
        if cache.peek(key) is not None:
            counts["skipped"] += 1
            continue
        try:
            entry = _stored_entry(sha256, version)
        except Exception as exc:  # one bad stored row must not stop the prewarm
            logger.warning("Prewarm could not load %s/%s: %s", version, sha256, exc)
            counts["failed"] += 1
            continue
        if entry is None:
            counts["skipped"] += 1
            continue
        cache.put(key, entry)
        if shared is not None:
            shared.put(sha256, version, entry[0], entry[1], ttl=int(cache.ttl_seconds))
        put.append(key)
    resident = sum(1 for key in put if cache.peek(key) is not None)
    counts["loaded"] = resident
    counts["skipped"] += len(put) - resident
    return counts


def cache_prewarm(*, actor: str, limit: int | None = None, reason: str = "", progress=None,
                  should_stop=None, default_limit_cap: int = MAX_PREWARM_LIMIT) -> CachePrewarmRun:
    """Load entries in priority order into this process (and the shared tier), then have every other process
    replay the same plan (it notices the new prewarm generation within a second of its next lookup).

    ``progress(done, total)`` is called every ``PROGRESS_EVERY`` entries; when ``should_stop()`` turns true the
    remaining entries are counted as skipped (the command stops cleanly on SIGTERM). Without ``limit``, the
    capacity is the limit, capped at ``default_limit_cap`` (a capacity above the cap is not an error of the caller's).
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    capacity = holder.cache().capacity
    if limit is None:
        limit = min(capacity, default_limit_cap, MAX_PREWARM_LIMIT)
    check_bound("limit", limit, MAX_PREWARM_LIMIT)
    effective = min(limit, capacity)
    plan = selectors.cache_prewarm_plan(limit=effective)
    tiers = {tier: 0 for tier in selectors.PREWARM_TIERS}
    for _sha, _version, tier in plan:
        tiers[tier] += 1
    with transaction.atomic():
        row = locked_settings()
        row.prewarm_generation += 1
        row.save(update_fields=["prewarm_generation", "updated_at"])
        run = CachePrewarmRun.objects.create(generation=row.prewarm_generation, actor=actor, limit=effective,
                                             entries=[list(item) for item in plan], tiers=tiers)
    holder.mark_prewarm_seen(run.generation)
    counts = _load_entries(plan, write_shared=True, progress=progress, should_stop=should_stop)
    run.loaded, run.skipped, run.failed = counts["loaded"], counts["skipped"], counts["failed"]
    run.save(update_fields=["loaded", "skipped", "failed"])
    for result, count in counts.items():
        if count:
            FEATURE_CACHE_PREWARM_TOTAL.labels(result=result).inc(count)
    audit_record(action="prewarm", actor=actor, reason=reason, before={"requested_limit": limit},
                 after={"generation": run.generation, "limit": effective, "tiers": tiers, **counts})
    return run


def cache_prewarm_replay(*, generation: int) -> dict | None:
    """Another process's prewarm, replayed into this process's cache (no metrics: counted once by the runner)."""
    run = CachePrewarmRun.objects.filter(generation=generation).first()
    if run is None:
        return None
    return _load_entries([tuple(item) for item in run.entries], write_shared=False)
