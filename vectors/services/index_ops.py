"""Degraded mode, recovery, rebuild and drills: the index's shared state lives in ``IndexState`` rows."""

from __future__ import annotations

import logging
import os
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cadml_site import metrics
from features.extractors import dimension
from vectors.errors import IndexRebuildFailed, RebuildInProgress
from vectors.index.holder import build_snapshot
from vectors.index.recovery_policy import (
    Decision,
    decide,
    is_suppressed,
    on_degraded,
    on_failure,
    on_success,
)
from vectors.index_settings import index_config, recovery_policy
from vectors.index_source import DatabaseIndexSource
from vectors.models import IndexEvent, IndexLease, IndexState, VectorOpsAudit
from vectors.recovery_state import policy_state, store_policy_state
from vectors.snapshot_storage import snapshot_publish
from vectors.validation import checked_version

logger = logging.getLogger("cadml.vectors")

REBUILD_LEASE = "rebuild"
_rng = random.SystemRandom()


@dataclass(frozen=True)
class RecoveryResult:
    feature_version: str
    result: str  # success | error | skipped | suppressed | waiting
    error: str = ""
    snapshot_generation: int | None = None


# ---- state helpers ----------------------------------------------------------------------------------------------
def locked_state(feature_version: str) -> IndexState:
    """The version's state row, locked until the end of the surrounding transaction (created when missing)."""
    try:
        with transaction.atomic():
            IndexState.objects.get_or_create(feature_version=feature_version)
    except IntegrityError:
        pass
    return IndexState.objects.select_for_update().get(feature_version=feature_version)


def state_snapshot(row: IndexState) -> dict:
    return {"degraded": row.degraded, "reason": row.degraded_reason, "epoch": row.epoch,
            "generation": row.generation, "snapshot_generation": row.snapshot_generation,
            "drill_until": row.drill_until.isoformat() if row.drill_until else None}


def record_event(*, feature_version: str, event: str, reason: str = "", detail: str = "",
                 actor: str = "") -> IndexEvent:
    """Appends a degraded-mode event and counts it in ``similarity_degraded_total{event}``."""
    row = IndexEvent.objects.create(feature_version=feature_version, event=event, reason=reason[:64],
                                    detail=detail[:4000], actor=actor[:150])
    metrics.SIMILARITY_DEGRADED_TOTAL.labels(event=event).inc()
    return row


# ---- degradation ------------------------------------------------------------------------------------------------
def index_mark_degraded(*, feature_version: str, reason: str, error: str, now: datetime | None = None,
                        rng: random.Random | None = None) -> IndexState:
    """Records that a process could not serve the version from Faiss; every process then serves it from numpy."""
    now = now or timezone.now()
    with transaction.atomic():
        row = locked_state(feature_version)
        row.last_error = error[:4000]
        if row.degraded:
            row.save(update_fields=["last_error", "updated_at"])
            return row
        suppressed = _count_degradation(row, now, rng)
        row.degraded, row.degraded_since, row.degraded_reason = True, now, reason[:64]
        row.epoch += 1
        row.save()
        record_event(feature_version=feature_version, event=IndexEvent.Kind.DEGRADED, reason=reason, detail=error)
        if suppressed:
            _record_suppression(row, reason)
    return row


def _count_degradation(row: IndexState, now: datetime, rng: random.Random | None) -> bool:
    """Feeds one degradation to the backoff and flap policy; True when it starts flap suppression."""
    state, suppressed = on_degraded(recovery_policy(), policy_state(row), now.timestamp(), rng or _rng)
    store_policy_state(row, state)
    return suppressed


def _record_suppression(row: IndexState, reason: str) -> None:
    record_event(feature_version=row.feature_version, event=IndexEvent.Kind.SUPPRESSED, reason=reason,
                 detail=f"{recovery_policy().flap_threshold} degradations within "
                        f"{recovery_policy().flap_window_seconds:.0f} s: automatic recovery paused until "
                        f"{row.suppressed_until.isoformat()}")


def index_degrade_drill(*, feature_version: str, reason: str, actor: str, request_id: str = "",
                        duration_seconds: int | None = None, now: datetime | None = None) -> IndexState:
    """Starts an operator drill: the version is served degraded until the drill ends or a manual recovery."""
    checked_version(feature_version)
    now = now or timezone.now()
    duration = duration_seconds or settings.CADML_DRILL_SECONDS
    with transaction.atomic():
        row = locked_state(feature_version)
        before = state_snapshot(row)
        # A drill is a degradation like any other for the flap policy, so drills also exercise flap suppression.
        suppressed = False
        if not row.degraded:
            suppressed = _count_degradation(row, now, None)
            row.degraded, row.degraded_since = True, now
        row.degraded_reason = "drill"
        row.drill_until = now + timedelta(seconds=duration)
        row.next_attempt_at = max(row.drill_until, row.next_attempt_at or row.drill_until)
        row.last_error = f"drill: {reason}"[:4000]
        row.epoch += 1
        row.save()
        record_event(feature_version=feature_version, event=IndexEvent.Kind.DRILL, reason="drill", detail=reason,
                     actor=actor)
        if suppressed:
            _record_suppression(row, "drill")
        VectorOpsAudit.objects.create(actor=actor, request_id=request_id, action="index_degrade_drill",
                                      reason=reason, feature_version=feature_version, before=before,
                                      after=state_snapshot(row))
    return row


# ---- the rebuild lease ------------------------------------------------------------------------------------------
def lease_claim(owner: str, *, now: datetime | None = None) -> bool:
    """Claims the rebuild lease with a conditional UPDATE (works the same on Postgres and SQLite)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            IndexLease.objects.get_or_create(name=REBUILD_LEASE)
    except IntegrityError:
        pass
    claimed = (IndexLease.objects.filter(name=REBUILD_LEASE)
               .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now))
               .update(owner=owner, expires_at=now + timedelta(seconds=settings.CADML_INDEX_LEASE_SECONDS)))
    return claimed == 1


def lease_release(owner: str) -> None:
    IndexLease.objects.filter(name=REBUILD_LEASE, owner=owner).update(owner="", expires_at=None)


# ---- recovery and rebuild ---------------------------------------------------------------------------------------
def _rebuild_snapshot(feature_version: str):
    """Builds and verifies a snapshot in this host's folder, then publishes it for every host before the state
    row names it (a failure to publish fails the attempt)."""
    source = DatabaseIndexSource(dimension, mark_degraded=index_mark_degraded)
    build_snapshot(source, feature_version=feature_version, snapshot_root=settings.CADML_INDEX_DIR,
                   dimension=dimension(feature_version), config=index_config())
    return snapshot_publish(root=settings.CADML_INDEX_DIR, feature_version=feature_version)


def _attempt(feature_version: str, *, manual: bool, actor: str, now: datetime,
             rng: random.Random) -> RecoveryResult:
    owner = f"{os.getpid()}-{secrets.token_hex(6)}"
    if not lease_claim(owner, now=now):
        metrics.FAISS_RECOVERY_ATTEMPTS_TOTAL.labels(result="skipped").inc()
        return RecoveryResult(feature_version, "skipped", "another process is rebuilding")
    try:
        try:
            manifest = _rebuild_snapshot(feature_version)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("Index %s recovery failed: %s", feature_version, error)
            with transaction.atomic():
                row = locked_state(feature_version)
                store_policy_state(row, on_failure(recovery_policy(), policy_state(row), now.timestamp(), rng))
                row.last_error, row.last_attempt_at, row.last_attempt_result = error[:4000], now, "error"
                row.save()
                if row.degraded:
                    record_event(feature_version=feature_version, event=IndexEvent.Kind.RECOVERY_FAILED,
                                 reason=row.degraded_reason, detail=error, actor=actor)
            metrics.FAISS_RECOVERY_ATTEMPTS_TOTAL.labels(result="error").inc()
            return RecoveryResult(feature_version, "error", error)
        with transaction.atomic():
            row = locked_state(feature_version)
            was_degraded, reason = row.degraded, row.degraded_reason
            overrode = manual and row.degraded and (
                is_suppressed(policy_state(row), now.timestamp()) or (row.drill_until and row.drill_until > now)
                or (row.next_attempt_at and row.next_attempt_at > now))
            store_policy_state(row, on_success(policy_state(row)))
            row.degraded, row.degraded_since, row.degraded_reason, row.drill_until = False, None, "", None
            row.last_error, row.last_attempt_at, row.last_attempt_result = "", now, "success"
            row.snapshot_generation, row.snapshot_count, row.snapshot_at = manifest.generation, manifest.count, now
            row.epoch += 1
            row.save()
            if overrode:
                record_event(feature_version=feature_version, event=IndexEvent.Kind.MANUAL_OVERRIDE, reason=reason,
                             detail="manual recovery ignored backoff, suppression or a drill", actor=actor)
            if was_degraded:
                record_event(feature_version=feature_version, event=IndexEvent.Kind.RESTORED, reason=reason,
                             detail=f"snapshot generation {manifest.generation}, {manifest.count} vectors "
                                    f"({manifest.kind})", actor=actor)
        metrics.FAISS_RECOVERY_ATTEMPTS_TOTAL.labels(result="success").inc()
        return RecoveryResult(feature_version, "success", snapshot_generation=manifest.generation)
    finally:
        lease_release(owner)


def index_recover(*, feature_version: str, actor: str, request_id: str = "", reason: str = "",
                  now: datetime | None = None, rng: random.Random | None = None) -> RecoveryResult:
    """Operator recovery: tries now, ignoring backoff and suppression; refused while another rebuild runs."""
    checked_version(feature_version)
    now = now or timezone.now()
    before = state_snapshot(current_state(feature_version))
    result = _attempt(feature_version, manual=True, actor=actor, now=now, rng=rng or _rng)
    if result.result == "skipped":
        raise RebuildInProgress("another process is rebuilding the index; try again shortly",
                                context={"feature_version": feature_version})
    VectorOpsAudit.objects.create(actor=actor, request_id=request_id, action="index_recover", reason=reason,
                                  feature_version=feature_version, before=before,
                                  after={**state_snapshot(current_state(feature_version)),
                                         "result": result.result, "error": result.error})
    return result


def index_rebuild(*, feature_version: str, actor: str, request_id: str = "", reason: str = "",
                  now: datetime | None = None) -> RecoveryResult:
    """Rebuilds the version's index from the database and publishes a new snapshot (audited)."""
    result = index_recover(feature_version=feature_version, actor=actor, request_id=request_id,
                           reason=reason or "rebuild", now=now)
    if result.result != "success":
        raise IndexRebuildFailed(f"the index could not be rebuilt: {result.error}",
                                 context={"feature_version": feature_version})
    return result


def current_state(feature_version: str) -> IndexState:
    return IndexState.objects.filter(feature_version=feature_version).first() or IndexState(
        feature_version=feature_version)


def index_recovery_tick(*, now: datetime | None = None, rng: random.Random | None = None) -> list[RecoveryResult]:
    """One pass of the automatic loop (Celery beat): every degraded version whose backoff has elapsed is retried,
    unless flap suppression or a drill holds it."""
    now = now or timezone.now()
    results = []
    for row in IndexState.objects.filter(degraded=True):
        if row.drill_until and row.drill_until > now:
            results.append(RecoveryResult(row.feature_version, "waiting", "drill in progress"))
            continue
        decision = decide(policy_state(row), now.timestamp())
        if decision is Decision.SUPPRESSED:
            metrics.FAISS_RECOVERY_ATTEMPTS_TOTAL.labels(result="suppressed").inc()
            results.append(RecoveryResult(row.feature_version, "suppressed"))
        elif decision is Decision.WAIT:
            results.append(RecoveryResult(row.feature_version, "waiting"))
        else:
            results.append(_attempt(row.feature_version, manual=False, actor="auto-recovery", now=now,
                                    rng=rng or _rng))
    return results
