"""A real Celery worker against a real broker round-trips a task."""

from __future__ import annotations

import pytest

from tests.celery_probe import prefork_worker


@pytest.mark.integration
def test_worker_round_trips_a_task_through_the_broker(django_subprocess_env):
    with prefork_worker(django_subprocess_env, name="roundtrip") as worker:
        value = worker.client.send_task("cadml_site.ping", args=["hello"], queue=worker.queue).get(timeout=120)
        assert value["pong"] == "hello"
        assert value["pid"] != worker.pid  # answered by a prefork child process
        # every per-process initialiser (parse pool, index, model, cache...) started in the child
        assert value["initializers"] and set(value["initializers"].values()) == {"ok"}, value["initializers"]
        assert value["frozen_objects"] > 10_000  # the child froze its startup heap (imported code, settings...)
    assert "Traceback" not in worker.output, worker.output
