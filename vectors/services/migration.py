"""Migration of vectors between feature versions: staged in batches, resumable, published in one transaction.

The run row is the lease: the process executing a run holds it through ``attempts`` (its claim's number) and shows
it is alive through ``heartbeat_at`` (set at the claim and at every staged batch). A run whose heartbeat is older
than ``CADML_MIGRATION_ABANDONED_SECONDS`` (its worker was killed, its message lost) is handed to a worker again by
``vector_migrations_resume_abandoned``; the process that held it, should it still be alive, loses the lease at its
next batch (it stops without touching the run) and never publishes.

This module enqueues by task name through the Celery app's registry (``cadml_site.celery.publish``): services never
import ``vectors.tasks``, which imports them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cadml_site import metrics
from cadml_site.errors import BrokerUnavailable
from cadml_site.celery import publish
from vectors.errors import MigrationConflict, MigrationNotFound
from vectors.migration_plan import SKIPPED, migrate_vector, migration_summary
from vectors.models import MigrationRun, MigrationStagedVector, ServedVersion, Vector, VectorOpsAudit
from vectors.served_version_cache import served_version_cache
from vectors.validation import checked_versions
from vectors.services.vector_writes import BULK_BATCH, next_generation, upsert_rows

logger = logging.getLogger("cadml.vectors")

OPEN_STATUSES = (MigrationRun.Status.PENDING, MigrationRun.Status.RUNNING, MigrationRun.Status.INTERRUPTED)
# Open runs that a worker owes progress to: an interrupted run was stopped on purpose (SIGTERM of the command) and
# is resumed by an operator, never automatically.
RESUMABLE_STATUSES = (MigrationRun.Status.PENDING, MigrationRun.Status.RUNNING)
MIGRATION_TASK = "vectors.tasks.vector_migration_run_task"


class _LeaseLost(Exception):
    """The run was handed to another process (or closed) since this process claimed it."""


def vector_migration_start(*, from_version: str, to_version: str, dry_run: bool, actor: str,
                           request_id: str = "", enqueue: bool = True) -> MigrationRun:
    """Creates a migration run and (after commit) enqueues the task that executes it."""
    checked_versions(from_version, to_version)
    with transaction.atomic():
        busy = (MigrationRun.objects.select_for_update()
                .filter(to_version=to_version, status__in=OPEN_STATUSES, dry_run=False).first())
        if busy is not None and not dry_run:
            raise MigrationConflict(f"migration run {busy.pk} into {to_version} is not finished",
                                    context={"run_id": busy.pk, "status": busy.status})
        run = MigrationRun.objects.create(
            from_version=from_version, to_version=to_version, dry_run=dry_run, actor=actor,
            total=Vector.objects.filter(feature_version=from_version).count())
        VectorOpsAudit.objects.create(actor=actor, request_id=request_id, action="vector_migration_start",
                                      feature_version=to_version, before=None,
                                      after={"run_id": run.pk, "from": from_version, "to": to_version,
                                             "dry_run": dry_run, "total": run.total})
        if enqueue:
            transaction.on_commit(lambda: _enqueue_migration(run.pk))
    return run


def _enqueue_migration(run_id: int) -> None:
    """After commit: hand the run to a worker. With the broker down the run is closed as failed (so that it blocks
    no later start) and the caller gets 503 broker_unavailable; a new start runs it again."""
    try:
        publish(MIGRATION_TASK, run_id)
    except BrokerUnavailable as exc:
        exc.context["run_id"] = run_id
        MigrationRun.objects.filter(pk=run_id, status=MigrationRun.Status.PENDING).update(
            status=MigrationRun.Status.FAILED, error="not enqueued: the task broker was unavailable",
            updated_at=timezone.now())
        logger.warning("Migration run %s not enqueued: broker unavailable", run_id)
        raise


def _abandoned_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.CADML_MIGRATION_ABANDONED_SECONDS)


def _heartbeat_of(run: MigrationRun) -> datetime:
    return run.heartbeat_at or run.created_at


def _claim(run_id: int, *, unless_running: bool) -> MigrationRun | None:
    """Takes the run's lease (a new ``attempts`` number, a fresh heartbeat). None: nothing to do (the run is
    finished, or, with ``unless_running``, another process holds it and is alive)."""
    with transaction.atomic():
        run = MigrationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise MigrationNotFound(f"no migration run {run_id}", context={"run_id": run_id})
        if run.status not in OPEN_STATUSES and run.status != MigrationRun.Status.FAILED:
            return None
        if (unless_running and run.status == MigrationRun.Status.RUNNING
                and _heartbeat_of(run) >= _abandoned_before()):
            logger.info("Migration run %s is running elsewhere (heartbeat %s): not claimed", run_id,
                        _heartbeat_of(run).isoformat())
            return None
        if run.attempts:
            metrics.VECTOR_MIGRATE_TOTAL.labels(status="resumed").inc()
            logger.warning("Migration run %s resumed (attempt %s) at %s of %s vectors", run_id, run.attempts + 1,
                           run.processed, run.total)
        run.status, run.attempts, run.error = MigrationRun.Status.RUNNING, run.attempts + 1, ""
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "attempts", "error", "heartbeat_at", "updated_at"])
    return run


def _still_holding(run: MigrationRun, **changes) -> None:
    """Writes ``changes`` and a heartbeat to the run row if this process still holds its lease, else raises
    ``_LeaseLost`` (inside a transaction: what it staged is rolled back)."""
    now = timezone.now()
    held = (MigrationRun.objects.filter(pk=run.pk, attempts=run.attempts, status=MigrationRun.Status.RUNNING)
            .update(heartbeat_at=now, updated_at=now, **changes))
    if not held:
        raise _LeaseLost(run.pk)
    run.heartbeat_at = now
    for name, value in changes.items():
        setattr(run, name, value)


def _stage_batch(run: MigrationRun, batch_size: int) -> int:
    rows = list(Vector.objects.filter(feature_version=run.from_version, id__gt=run.cursor)
                .order_by("id").values_list("id", "key", "values", "meta")[:batch_size])
    if not rows:
        return 0
    staged = []
    for pk, key, values, meta in rows:
        moved = migrate_vector(np.frombuffer(bytes(values), dtype="<f4"), meta, from_version=run.from_version,
                               to_version=run.to_version)
        # a skipped vector (needs_source) is staged without values: counted in the run's statistics, never published
        blob = b"" if moved.values is None else moved.values.astype("<f4").tobytes()
        staged.append(MigrationStagedVector(run=run, source_vector_id=pk, key=key, meta=meta, method=moved.method,
                                            delta=moved.delta or 0.0, values=blob))
    with transaction.atomic():
        MigrationStagedVector.objects.bulk_create(staged, ignore_conflicts=True)
        _still_holding(run, cursor=rows[-1][0], processed=MigrationStagedVector.objects.filter(run=run).count())
    return len(rows)


def _run_summary(run: MigrationRun) -> dict:
    staged = list(MigrationStagedVector.objects.filter(run=run).order_by("source_vector_id")
                  .values_list("method", "delta"))
    return migration_summary(from_version=run.from_version, to_version=run.to_version,
                             methods=[m for m, _ in staged], deltas=[None if m in SKIPPED else d for m, d in staged])


def _publish(run: MigrationRun, summary: dict) -> dict:
    """One transaction: every staged vector becomes visible in the target version at one generation."""
    dim = summary["dimension_to"]
    with transaction.atomic():
        # the run row stays locked until the switch commits: no resume can hand it over meanwhile
        if not MigrationRun.objects.select_for_update().filter(
                pk=run.pk, attempts=run.attempts, status=MigrationRun.Status.RUNNING).values_list("pk").first():
            raise _LeaseLost(run.pk)
        # vectors registered in the source version since the last batch (analyze keeps serving it until now) are
        # staged here, in the publishing transaction, so the switched version holds them too
        while _stage_batch(run, settings.CADML_MIGRATION_BATCH_SIZE):
            pass
        summary = _run_summary(run)
        generation = next_generation(run.to_version)
        staged = (MigrationStagedVector.objects.filter(run=run).exclude(method__in=SKIPPED)
                  .order_by("source_vector_id"))
        keys, blobs, metas = [], [], []
        for key, values, meta in staged.values_list("key", "values", "meta").iterator(chunk_size=BULK_BATCH):
            keys.append(key)
            blobs.append(bytes(values))
            metas.append(json.dumps(meta, separators=(",", ":")))
            if len(keys) >= BULK_BATCH * 5:
                upsert_rows(feature_version=run.to_version, dimension=dim, generation=generation, keys=keys,
                            blobs=blobs, metas_json=metas)
                keys, blobs, metas = [], [], []
        if keys:
            upsert_rows(feature_version=run.to_version, dimension=dim, generation=generation, keys=keys,
                        blobs=blobs, metas_json=metas)
        ServedVersion.objects.update_or_create(
            singleton=1, defaults={"feature_version": run.to_version, "previous_version": run.from_version})
        # this process serves the new version at once: forgotten now (this transaction's own reads) and again on
        # commit (a read of another thread between the two cached the old version)
        served_version_cache.forget()
        transaction.on_commit(served_version_cache.forget)
        MigrationStagedVector.objects.filter(run=run).delete()
        run.status, run.stats, run.finished_at = MigrationRun.Status.COMPLETED, summary, timezone.now()
        run.save(update_fields=["status", "stats", "finished_at", "updated_at"])
    return summary


def vector_migration_run(*, run_id: int, batch_size: int | None = None,
                         progress: Callable[[int, int], None] | None = None,
                         should_stop: Callable[[], bool] | None = None,
                         unless_running: bool = False) -> MigrationRun:
    """Executes (or resumes) a run: stages batches after the run's cursor, then publishes or, for a dry run,
    records the statistics only. ``should_stop`` lets a command stop cleanly between batches (resumable).

    An operator's resume (``unless_running=False``) takes the run over whatever its heartbeat says; a worker's task
    (``unless_running=True``) leaves a run that another live process holds alone (a redelivered or duplicate
    message)."""
    batch_size = batch_size or settings.CADML_MIGRATION_BATCH_SIZE
    run = _claim(run_id, unless_running=unless_running)
    if run is None:
        return MigrationRun.objects.get(pk=run_id)
    try:
        while _stage_batch(run, batch_size):
            if progress is not None:
                progress(run.processed, run.total)
            if should_stop is not None and should_stop():
                run.status = MigrationRun.Status.INTERRUPTED
                run.save(update_fields=["status", "updated_at"])
                metrics.VECTOR_MIGRATE_TOTAL.labels(status="interrupted").inc()
                return run
        summary = _run_summary(run)
        if run.dry_run:
            with transaction.atomic():
                MigrationStagedVector.objects.filter(run=run).delete()
                run.status, run.stats, run.finished_at = MigrationRun.Status.DRY_RUN, summary, timezone.now()
                run.save(update_fields=["status", "stats", "finished_at", "updated_at"])
            metrics.VECTOR_MIGRATE_TOTAL.labels(status="dry_run").inc()
        else:
            summary = _publish(run, summary)
            metrics.VECTOR_MIGRATE_TOTAL.labels(status="success").inc()
        metrics.VECTOR_MIGRATE_DIMENSION_DELTA.set(summary["dimension_delta"])
        return run
    except _LeaseLost:
        logger.warning("Migration run %s was handed to another worker (attempt %s ended here)", run_id,
                       run.attempts)
        return MigrationRun.objects.get(pk=run_id)
    except Exception as exc:
        MigrationRun.objects.filter(pk=run.pk).update(status=MigrationRun.Status.FAILED,
                                                      error=f"{type(exc).__name__}: {exc}"[:4000])
        metrics.VECTOR_MIGRATE_TOTAL.labels(status="failed").inc()
        raise


def vector_migrations_resume_abandoned(*, trigger: str) -> list[int]:
    """Hands every abandoned run to a worker again: a pending or running run whose heartbeat (or, before its first
    claim, its creation) is older than ``CADML_MIGRATION_ABANDONED_SECONDS``. Each goes back to ``pending`` with a
    fresh heartbeat (so the next check leaves it alone while its message waits), an audit row records why, and its
    task is enqueued; the claim counts it in ``vector_migrate_total{status="resumed"}``. Called by the beat task and
    when a Celery worker starts (``trigger``: ``beat`` or ``worker_start``, kept in the audit row). Returns the ids
    enqueued (a run whose enqueue failed is tried again next time)."""
    cutoff = _abandoned_before()
    now = timezone.now()
    with transaction.atomic():
        runs = list(MigrationRun.objects.select_for_update(skip_locked=True)
                    .filter(status__in=RESUMABLE_STATUSES)
                    .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
                    .order_by("id"))
        for run in runs:
            heartbeat = _heartbeat_of(run)
            before = {"status": run.status, "heartbeat_at": heartbeat.isoformat(), "attempts": run.attempts,
                      "processed": run.processed, "total": run.total}
            run.status, run.heartbeat_at = MigrationRun.Status.PENDING, now
            run.save(update_fields=["status", "heartbeat_at", "updated_at"])
            VectorOpsAudit.objects.create(
                actor="system", action="vector_migration_resume", feature_version=run.to_version, before=before,
                after={"run_id": run.pk, "status": run.status, "trigger": trigger,
                       "reason": f"no heartbeat for {(now - heartbeat).total_seconds():.0f} s "
                                 f"(CADML_MIGRATION_ABANDONED_SECONDS={settings.CADML_MIGRATION_ABANDONED_SECONDS})"})
            logger.warning("Migration run %s abandoned (%s, heartbeat %s, %s of %s staged): enqueued again (%s)",
                           run.pk, before["status"], before["heartbeat_at"], run.processed, run.total, trigger)
    enqueued = []
    for run in runs:
        try:
            publish(MIGRATION_TASK, run.pk)
        except BrokerUnavailable:
            logger.warning("Migration run %s not enqueued again: broker unavailable (next check retries)", run.pk)
            continue
        enqueued.append(run.pk)
    logger.info("Abandoned-migration check (%s): %d run(s) enqueued again %s", trigger, len(enqueued), enqueued)
    return enqueued

