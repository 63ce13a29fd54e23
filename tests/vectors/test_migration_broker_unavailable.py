"""Broker down when a migration is started: 503 broker_unavailable with Retry-After, never a 500, and the run is
closed as failed so that it blocks no later start. The live version (a private Redis stopped under a running stack)
is tests/integration/test_fault_broker_outage.py."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from tests.vectors.conftest import make_vectors, register
from vectors.models import MigrationRun

URL = "/api/v1/vectors/migrate/"


@pytest.fixture
def broker_down(monkeypatch):
    from vectors.tasks import vector_migration_run_task

    def refused(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")

    monkeypatch.setattr(vector_migration_run_task, "delay", refused)


def test_migration_start_with_the_broker_down_is_503_and_leaves_no_open_run(transactional_db, ops_client,
                                                                             broker_down):
    register("v3", make_vectors(5, 22, seed=2))
    response = ops_client.post(URL, {"from_version": "v3", "to_version": "v4", "dry_run": False}, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "10"
    body = response.json()
    assert (body["code"], body["stage"]) == ("broker_unavailable", "enqueue")
    assert body["context"]["task"] == "vectors.tasks.vector_migration_run_task"
    run = MigrationRun.objects.get()
    assert body["context"]["run_id"] == run.pk
    assert run.status == MigrationRun.Status.FAILED
    assert "broker" in run.error


def test_a_new_start_after_the_outage_runs(transactional_db, ops_client, broker_down, monkeypatch):
    register("v3", make_vectors(5, 22, seed=2))
    assert ops_client.post(URL, {"from_version": "v3", "to_version": "v4", "dry_run": False}, format="json").status_code == 503
    monkeypatch.undo()  # the broker is back (tasks run in process in unit tests)
    response = ops_client.post(URL, {"from_version": "v3", "to_version": "v4", "dry_run": False}, format="json")
    assert response.status_code == 202, response.json()
    assert MigrationRun.objects.get(pk=response.json()["id"]).status == MigrationRun.Status.COMPLETED


def test_a_result_backend_that_cannot_connect_is_the_broker_being_down(transactional_db, ops_client, monkeypatch):
    """Redis as result backend wraps the refused connection in RuntimeError('Retry limit exceeded...')."""
    import redis.exceptions

    from vectors.tasks import vector_migration_run_task

    def refused(*args, **kwargs):
        try:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        except redis.exceptions.ConnectionError as exc:
            raise RuntimeError("Retry limit exceeded while trying to reconnect") from exc

    monkeypatch.setattr(vector_migration_run_task, "delay", refused)
    register("v3", make_vectors(3, 22, seed=1))
    response = ops_client.post(URL, {"from_version": "v3", "to_version": "v4", "dry_run": True}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"


def test_other_enqueue_errors_stay_errors(transactional_db, ops_client, monkeypatch):
    from vectors.tasks import vector_migration_run_task

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(vector_migration_run_task, "delay", broken)
    register("v3", make_vectors(3, 22, seed=1))
    response = ops_client.post(URL, {"from_version": "v3", "to_version": "v4", "dry_run": True}, format="json")
    assert response.status_code == 500  # a bug is not a dependency fault
    assert response.json()["code"] == "internal_error"
