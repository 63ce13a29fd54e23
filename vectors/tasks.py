"""Celery tasks: thin wrappers that call one service. Tasks import services, never the reverse (services enqueue
by task name, ``cadml_site.celery.publish``)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from vectors.services import (
    index_recovery_tick,
    vector_deletion_log_prune,
    vector_migration_run,
    vector_migrations_resume_abandoned,
)


@shared_task(name="vectors.tasks.index_recovery_tick_task", ignore_result=True)
def index_recovery_tick_task() -> list[dict]:
    """Beat entry: retries degraded indexes whose backoff has elapsed."""
    return [r.__dict__ for r in index_recovery_tick()]


@shared_task(name="vectors.tasks.vector_deletion_log_prune_task", ignore_result=True)
def vector_deletion_log_prune_task() -> dict[str, int]:
    """Beat entry: drops deletion-log rows that no process can need any more."""
    return vector_deletion_log_prune()


@shared_task(name="vectors.tasks.vector_migration_run_task", acks_late=True, ignore_result=True)
def vector_migration_run_task(run_id: int) -> dict:
    """Executes or resumes a migration run, unless another live worker holds it (a duplicate or redelivered
    message). Its outcome is the run's row (polled at ``migrate/runs/<id>/``), so no result is stored: sending it
    needs the broker only, not the result backend."""
    run = vector_migration_run(run_id=run_id, unless_running=True)
    return {"run_id": run.pk, "status": run.status}


@shared_task(name="vectors.tasks.vector_migration_resume_abandoned_task", ignore_result=True)
def vector_migration_resume_abandoned_task(trigger: str = "beat") -> list[int]:
    """Beat entry (and once per worker start): enqueues again the migration runs whose worker went silent."""
    return vector_migrations_resume_abandoned(trigger=trigger)


@worker_ready.connect
def _resume_abandoned_migrations_on_worker_start(**_kwargs) -> None:
    """A worker that starts (after a crash of the one before it, say) checks for abandoned runs at once instead of
    waiting for the next beat tick."""
    vector_migration_resume_abandoned_task.delay("worker_start")
