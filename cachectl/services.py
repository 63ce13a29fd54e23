"""Writes: the feature cache contract used by ``features``, settings apply/rollback/confirm/restore with the
rollback window, prewarm, and recent-hit tracking."""

from __future__ import annotations

import logging
import math
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cachectl import selectors
from cachectl.holder import holder
from cachectl.models import (
    CacheAuditRecord,
    CacheKeyActivity,
    CachePrewarmRun,
    CacheSettings,
    CacheSettingsChange,
    CacheSnapshot,
)
from cachectl.core import POLICIES
from cadml_site.errors import BadRequest, Conflict, NotFound
from cadml_site.metrics import FEATURE_CACHE_HITS_TOTAL, FEATURE_CACHE_MISSES_TOTAL, FEATURE_CACHE_PREWARM_TOTAL
from cadml_site.request_context import current_request_id

logger = logging.getLogger("cadml.cachectl")

STAGE = "cache"
VERSION_RE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
SHA256_RE = selectors.SHA256_RE
MAX_VALUES = 65_536
MAX_PREWARM_LIMIT = 100_000
PROGRESS_EVERY = 1000
REASON_MAX_LENGTH = 2000
KEY_ACTIVITY_RETENTION = timedelta(days=7)


# -- the cross-app contract ---------------------------------------------------------------------------
def _check_key(sha256: Any, version: Any) -> None:
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise BadRequest("A feature cache key needs a lowercase hex sha256.", code="invalid_cache_key",
                         stage=STAGE, context={"sha256": str(sha256)[:80]})
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise BadRequest("A feature cache key needs a feature version name.", code="invalid_cache_key",
                         stage=STAGE, context={"version": str(version)[:80]})


def _entry_dict(entry: tuple) -> dict:
    values, document_id = entry
    return {"values": list(values), "document_id": document_id}


def feature_cache_get(*, sha256: str, version: str) -> dict | None:
    """``{"values", "document_id"}`` from the in-process tier, else the shared tier, else None.

    Counts exactly one hit or one miss (``feature_cache_hits_total`` / ``feature_cache_misses_total``).
    """
    _check_key(sha256, version)
    key = (sha256, version)
    cache = holder.cache()
    entry = cache.get(key)
    if entry is None:
        shared = holder.shared_tier()
        if shared is not None:
            entry = shared.get(sha256, version)
            if entry is not None:
                cache.put(key, entry)
                holder.count_shared_hit()
    if entry is None:
        FEATURE_CACHE_MISSES_TOTAL.inc()
        return None
    FEATURE_CACHE_HITS_TOTAL.inc()
    return _entry_dict(entry)


def _clean_entry(values: Any, document_id: Any) -> tuple[tuple[float, ...], int | None]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise BadRequest("Feature values must be a list of numbers.", code="invalid_cache_entry", stage=STAGE)
    try:
        cleaned = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise BadRequest("Feature values must be numbers.", code="invalid_cache_entry", stage=STAGE) from None
    if not cleaned or len(cleaned) > MAX_VALUES or not all(math.isfinite(v) for v in cleaned):
        raise BadRequest("Feature values must be 1 to 65536 finite numbers.", code="invalid_cache_entry",
                         stage=STAGE, context={"length": len(cleaned)})
    if document_id is not None and (isinstance(document_id, bool) or not isinstance(document_id, int)):
        raise BadRequest("document_id must be an integer or None.", code="invalid_cache_entry", stage=STAGE)
    return cleaned, document_id


def feature_cache_put(*, sha256: str, version: str, values, document_id: int | None) -> None:
    """Stores an entry in the in-process tier and, when configured, the shared tier."""
    _check_key(sha256, version)
    entry = _clean_entry(values, document_id)
    cache = holder.cache()
    cache.put((sha256, version), entry)
    shared = holder.shared_tier()
    if shared is not None:
        shared.put(sha256, version, entry[0], entry[1], ttl=int(cache.ttl_seconds))


# -- settings changes -----------------------------------------------------------------------------------
def _audit(*, action: str, actor: str, reason: str, before: Any, after: Any) -> CacheAuditRecord:
    return CacheAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action=action,
                                           reason=reason, before=before, after=after)


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest("Give a reason: it goes into the audit trail.", code="reason_required", stage=STAGE)
    if len(reason) > REASON_MAX_LENGTH:
        raise BadRequest(f"The reason is limited to {REASON_MAX_LENGTH} characters.", code="reason_too_long",
                         stage=STAGE)
    return reason.strip()


def _check_bound(name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise BadRequest(f"{name} must be an integer between 1 and {maximum}.", code="out_of_bounds",
                         stage=STAGE, context={"field": name, "value": str(value)[:40], "min": 1, "max": maximum})
    return value


def _locked_settings() -> CacheSettings:
    """The settings row, locked for this transaction (created from the environment defaults if missing)."""
    row = CacheSettings.objects.select_for_update().filter(pk=CacheSettings.SINGLETON_ID).first()
    if row is None:
        CacheSettings.objects.get_or_create(pk=CacheSettings.SINGLETON_ID,
                                            defaults=selectors.cache_settings_defaults())
        row = CacheSettings.objects.select_for_update().get(pk=CacheSettings.SINGLETON_ID)
    return row


def _settings_of(row) -> dict:
    return {"capacity": row.capacity, "ttl_seconds": row.ttl_seconds, "policy": row.policy}


def _window_context(change: CacheSettingsChange, now) -> dict:
    return {"change_id": change.pk, "deadline": change.deadline.isoformat(),
            "seconds_left": round(max(0.0, (change.deadline - now).total_seconds()), 3)}


def _close_expired_or_refuse(now, *, actor: str) -> None:
    """A change while a window is open is refused; a window past its deadline is closed as superseded."""
    change = CacheSettingsChange.objects.select_for_update().filter(
        outcome=CacheSettingsChange.Outcome.OPEN).order_by("-created_at", "-id").first()
    if change is None:
        return
    if change.deadline > now:
        raise Conflict("A rollback window is open: confirm or roll back the last change first.",
                       code="rollback_window_active", stage=STAGE, context=_window_context(change, now))
    change.outcome = CacheSettingsChange.Outcome.SUPERSEDED
    change.resolved_at, change.resolved_by = now, actor
    change.save(update_fields=["outcome", "resolved_at", "resolved_by"])


def _snapshot(row: CacheSettings, *, actor: str, reason: str) -> CacheSnapshot:
    return CacheSnapshot.objects.create(
        capacity=row.capacity, ttl_seconds=row.ttl_seconds, policy=row.policy, generation=row.generation,
        stats=selectors.cache_process_stats(), taken_by=actor, reason=reason,
    )


def _write_settings(row: CacheSettings, target: dict) -> None:
    row.capacity, row.ttl_seconds, row.policy = target["capacity"], target["ttl_seconds"], target["policy"]
    row.generation += 1
    row.save()
    transaction.on_commit(_apply_locally)


def _apply_locally() -> None:
    holder.sync(force=True)


def _change_settings(*, kind: str, changes: dict, actor: str, reason: str,
                     restored_from: CacheSnapshot | None = None) -> CacheSettingsChange:
    now = timezone.now()
    row = _locked_settings()
    _close_expired_or_refuse(now, actor=actor)
    before = _settings_of(row)
    target = {**before, **changes}
    if target == before:
        raise Conflict("These are already the current settings.", code="settings_unchanged", stage=STAGE,
                         context={"settings": before})
    snapshot = _snapshot(row, actor=actor, reason=f"before {kind}: {reason}")
    _write_settings(row, target)
    deadline = now + timedelta(seconds=settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS)
    change = CacheSettingsChange.objects.create(
        kind=kind, actor=actor, reason=reason, before=before, after=target, generation=row.generation,
        snapshot=snapshot, restored_from=restored_from, deadline=deadline,
        outcome=CacheSettingsChange.Outcome.OPEN,
    )
    _audit(action=kind, actor=actor, reason=reason, before=before,
           after={**target, "change_id": change.pk, "snapshot_id": snapshot.pk, "deadline": deadline.isoformat(),
                  **({"restored_from": restored_from.pk} if restored_from else {})})
    return change


@transaction.atomic
def cache_settings_apply(*, actor: str, reason: str, capacity: int | None = None, ttl_seconds: int | None = None,
                         policy: str | None = None) -> CacheSettingsChange:
    """Snapshot the current settings, apply the new ones and open a rollback window (409 while one is open)."""
    reason = _check_reason(reason)
    if capacity is None and ttl_seconds is None and policy is None:
        raise BadRequest("Give capacity, ttl_seconds and/or policy.", code="nothing_to_apply", stage=STAGE)
    if capacity is not None:
        _check_bound("capacity", capacity, settings.CADML_CACHE_MAX_CAPACITY)
    if ttl_seconds is not None:
        _check_bound("ttl_seconds", ttl_seconds, settings.CADML_CACHE_MAX_TTL_SECONDS)
    if policy is not None and policy not in POLICIES:
        raise BadRequest(f"policy must be one of {', '.join(POLICIES)}.", code="out_of_bounds", stage=STAGE,
                         context={"field": "policy", "value": str(policy)[:40]})
    changes = {name: value for name, value in
               (("capacity", capacity), ("ttl_seconds", ttl_seconds), ("policy", policy)) if value is not None}
    return _change_settings(kind=CacheSettingsChange.Kind.APPLY, changes=changes, actor=actor, reason=reason)


@transaction.atomic
def cache_snapshot_restore(*, snapshot_id: int, actor: str, reason: str) -> CacheSettingsChange:
    """Apply a snapshot's settings, with the same window rules as an apply (it opens a new window)."""
    reason = _check_reason(reason)
    in_range = isinstance(snapshot_id, int) and 0 < snapshot_id < 2**63
    snapshot = CacheSnapshot.objects.filter(pk=snapshot_id).first() if in_range else None
    if snapshot is None:
        raise NotFound(f"No cache snapshot {snapshot_id}.", code="snapshot_not_found", stage=STAGE,
                       context={"snapshot_id": snapshot_id})
    target = snapshot.settings_dict()
    target["capacity"] = min(target["capacity"], settings.CADML_CACHE_MAX_CAPACITY)
    target["ttl_seconds"] = min(target["ttl_seconds"], settings.CADML_CACHE_MAX_TTL_SECONDS)
    return _change_settings(kind=CacheSettingsChange.Kind.RESTORE, changes=target, actor=actor, reason=reason,
                            restored_from=snapshot)


@transaction.atomic
def cache_settings_rollback(*, actor: str, reason: str) -> CacheSettingsChange:
    """Restore the snapshot taken by the last change, inside its rollback window."""
    reason = _check_reason(reason)
    now = timezone.now()
    row = _locked_settings()
    last = (CacheSettingsChange.objects.select_for_update().select_related("snapshot")
            .exclude(kind=CacheSettingsChange.Kind.ROLLBACK).order_by("-created_at", "-id").first())
    if last is None or last.outcome in (CacheSettingsChange.Outcome.CONFIRMED,
                                        CacheSettingsChange.Outcome.ROLLED_BACK):
        raise Conflict("There is no change to roll back.", code="nothing_to_rollback", stage=STAGE,
                       context={"change_id": last.pk, "outcome": last.outcome} if last else {})
    if last.outcome != CacheSettingsChange.Outcome.OPEN or last.deadline <= now:
        raise Conflict("The rollback window of the last change has expired; restore a snapshot instead.",
                       code="rollback_window_expired", stage=STAGE, context=_window_context(last, now))
    before = _settings_of(row)
    target = last.snapshot.settings_dict()
    snapshot = _snapshot(row, actor=actor, reason=f"before rollback of change {last.pk}: {reason}")
    _write_settings(row, target)
    last.outcome = CacheSettingsChange.Outcome.ROLLED_BACK
    last.resolved_at, last.resolved_by = now, actor
    last.save(update_fields=["outcome", "resolved_at", "resolved_by"])
    rollback = CacheSettingsChange.objects.create(
        kind=CacheSettingsChange.Kind.ROLLBACK, actor=actor, reason=reason, before=before, after=target,
        generation=row.generation, snapshot=snapshot, restored_from=last.snapshot, deadline=None,
        outcome=CacheSettingsChange.Outcome.NO_WINDOW,
    )
    _audit(action="rollback", actor=actor, reason=reason, before=before,
           after={**target, "rolled_back_change_id": last.pk, "change_id": rollback.pk, "snapshot_id": snapshot.pk})
    return rollback


@transaction.atomic
def cache_settings_confirm(*, actor: str, reason: str = "") -> CacheSettingsChange:
    """Close the open rollback window early (or an expired one nobody confirmed): the change stands."""
    reason = reason.strip() if isinstance(reason, str) else ""
    now = timezone.now()
    _locked_settings()
    change = CacheSettingsChange.objects.select_for_update().filter(
        outcome=CacheSettingsChange.Outcome.OPEN).order_by("-created_at", "-id").first()
    if change is None:
        raise Conflict("No rollback window is open.", code="no_open_window", stage=STAGE)
    change.outcome = CacheSettingsChange.Outcome.CONFIRMED
    change.resolved_at, change.resolved_by = now, actor
    change.save(update_fields=["outcome", "resolved_at", "resolved_by"])
    _audit(action="confirm", actor=actor, reason=reason, before=_window_context(change, now),
           after={"change_id": change.pk, "outcome": change.outcome, **change.after})
    return change


# -- prewarm -------------------------------------------------------------------------------------------------
def _stored_entry(sha256: str, version: str) -> tuple[tuple[float, ...], int | None] | None:
    from features.selectors import stored_features

    stored = stored_features(sha256=sha256, version=version)
    if stored is None:
        return None
    return _clean_entry(stored["values"], stored.get("document_id"))


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
    _check_bound("limit", limit, MAX_PREWARM_LIMIT)
    effective = min(limit, capacity)
    plan = selectors.cache_prewarm_plan(limit=effective)
    tiers = {tier: 0 for tier in selectors.PREWARM_TIERS}
    for _sha, _version, tier in plan:
        tiers[tier] += 1
    with transaction.atomic():
        row = _locked_settings()
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
    _audit(action="prewarm", actor=actor, reason=reason, before={"requested_limit": limit},
           after={"generation": run.generation, "limit": effective, "tiers": tiers, **counts})
    return run


def cache_prewarm_replay(*, generation: int) -> dict | None:
    """Another process's prewarm, replayed into this process's cache (no metrics: counted once by the runner)."""
    run = CachePrewarmRun.objects.filter(generation=generation).first()
    if run is None:
        return None
    return _load_entries([tuple(item) for item in run.entries], write_shared=False)


# -- key activity ------------------------------------------------------------------------------------------
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
