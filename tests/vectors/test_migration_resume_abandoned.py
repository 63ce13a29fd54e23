"""Abandoned migration runs (their worker killed, their message lost) are handed to a worker again; a run whose
holder is alive is left alone; a holder that lost its run stops without publishing. The live version (a Celery
worker SIGKILLed mid-run) is tests/integration/test_fault_migration_worker_kill.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.vectors.conftest import make_vectors, register
from vectors.models import MigrationRun, MigrationStagedVector, ServedVersion, Vector, VectorOpsAudit
from vectors.services import vector_migration_run, vector_migration_start, vector_migrations_resume_abandoned

pytestmark = pytest.mark.django_db


def _resumed() -> float:
    return REGISTRY.get_sample_value("vector_migrate_total", {"status": "resumed"}) or 0.0


def _killed_half_way(n: int = 40, batch_size: int = 10) -> MigrationRun:
    """A run left as a SIGKILLed worker leaves it: running, half staged, its heartbeat going stale."""
    register("v3", make_vectors(n, 22, seed=3))
    run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="t", enqueue=False)
    stops = iter([False, True])
    vector_migration_run(run_id=run.pk, batch_size=batch_size, should_stop=lambda: next(stops))
    MigrationRun.objects.filter(pk=run.pk).update(status=MigrationRun.Status.RUNNING)
    run.refresh_from_db()
    assert run.heartbeat_at is not None and run.processed == 2 * batch_size
    return run


def _age(run: MigrationRun, seconds: float) -> None:
    MigrationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_a_run_whose_heartbeat_went_stale_is_resumed_and_completes(settings, django_capture_on_commit_callbacks):
    settings.CADML_MIGRATION_ABANDONED_SECONDS = 30
    run = _killed_half_way()
    _age(run, 31)
    before = _resumed()
    # tasks run in process here: the re-enqueued task executes the run at once
    assert vector_migrations_resume_abandoned(trigger="beat") == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.processed, run.attempts) == ("completed", 40, 2)
    assert Vector.objects.filter(feature_version="v4").count() == 40
    assert ServedVersion.objects.get().feature_version == "v4"
    assert _resumed() == before + 1
    audit = VectorOpsAudit.objects.get(action="vector_migration_resume")
    assert audit.actor == "system" and audit.before["status"] == "running" and audit.before["processed"] == 20
    assert audit.after["run_id"] == run.pk and audit.after["trigger"] == "beat"
    assert "no heartbeat for 31 s" in audit.after["reason"]
    assert vector_migrations_resume_abandoned(trigger="beat") == []  # finished: nothing left to resume


def test_a_run_with_a_fresh_heartbeat_is_left_to_its_worker(settings):
    settings.CADML_MIGRATION_ABANDONED_SECONDS = 30
    run = _killed_half_way()
    _age(run, 29)
    assert vector_migrations_resume_abandoned(trigger="beat") == []
    from vectors.tasks import vector_migration_run_task

    vector_migration_run_task(run.pk)  # a duplicate message while its worker is alive: no second runner
    run.refresh_from_db()
    assert (run.status, run.attempts, run.processed) == ("running", 1, 20)
    assert not VectorOpsAudit.objects.filter(action="vector_migration_resume").exists()


def test_a_pending_run_whose_message_was_lost_is_enqueued_again(settings):
    settings.CADML_MIGRATION_ABANDONED_SECONDS = 30
    register("v3", make_vectors(15, 22, seed=4))
    run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="t", enqueue=False)
    assert vector_migrations_resume_abandoned(trigger="beat") == []  # just created: its message may still be on its way
    MigrationRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=60))
    assert vector_migrations_resume_abandoned(trigger="beat") == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.processed) == ("completed", 15)


def test_an_interrupted_run_waits_for_its_operator(settings):
    settings.CADML_MIGRATION_ABANDONED_SECONDS = 30
    run = _killed_half_way()
    MigrationRun.objects.filter(pk=run.pk).update(status=MigrationRun.Status.INTERRUPTED)
    _age(run, 3600)
    assert vector_migrations_resume_abandoned(trigger="beat") == []
    run.refresh_from_db()
    assert run.status == "interrupted"


def test_a_holder_that_lost_its_run_stops_without_staging_or_publishing(settings):
    register("v3", make_vectors(40, 22, seed=5))
    run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="t", enqueue=False)

    def taken_over(done, total):  # after the first batch another worker claims the run
        MigrationRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)

    result = vector_migration_run(run_id=run.pk, batch_size=10, progress=taken_over)
    # the second batch was rolled back: the lease had moved on
    assert (result.status, result.processed, result.attempts) == ("running", 10, 2)
    assert MigrationStagedVector.objects.filter(run=run).count() == 10
    assert not Vector.objects.filter(feature_version="v4").exists()
    assert result.error == ""


def test_the_beat_schedule_checks_for_abandoned_runs_and_the_task_is_registered(settings):
    from cadml_site.celery import app

    app.loader.import_default_modules()  # what a worker's autodiscovery imports

    entry = settings.CELERY_BEAT_SCHEDULE["vectors-migration-resume-abandoned"]
    assert entry["task"] == "vectors.tasks.vector_migration_resume_abandoned_task"
    assert entry["schedule"] == settings.CADML_MIGRATION_RESUME_TICK_SECONDS > 0
    assert app.tasks[entry["task"]].delay().get() == []
