"""Celery tasks: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="vectors.tasks.index_recovery_tick_task", ignore_result=True)
def index_recovery_tick_task() -> list[dict]:
    """Beat entry: retries degraded indexes whose backoff has elapsed."""
    from vectors.services import index_recovery_tick

    return [r.__dict__ for r in index_recovery_tick()]


@shared_task(name="vectors.tasks.vector_deletion_log_prune_task", ignore_result=True)
def vector_deletion_log_prune_task() -> dict[str, int]:
    """Beat entry: drops deletion-log rows that no process can need any more."""
    from vectors.services import vector_deletion_log_prune

    return vector_deletion_log_prune()


@shared_task(name="vectors.tasks.vector_migration_run_task", acks_late=True, ignore_result=True)
def vector_migration_run_task(run_id: int) -> dict:
    """Executes or resumes a migration run. Its outcome is the run's row (polled at ``migrate/runs/<id>/``), so no
    result is stored: sending it needs the broker only, not the result backend."""
    from vectors.services import vector_migration_run

    run = vector_migration_run(run_id=run_id)
    return {"run_id": run.pk, "status": run.status}
