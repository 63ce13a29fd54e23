"""A real Celery worker process (prefork, initialised by worker_process_init) applies a change within 5 s."""

from __future__ import annotations

import os
import time

import pytest

from cachectl.services import cache_settings_apply
from tests.celery_probe import prefork_worker


@pytest.mark.integration
def test_a_celery_worker_process_applies_a_change_within_5_seconds(django_subprocess_env):
    with prefork_worker({**django_subprocess_env, "CADML_CACHE_REDIS_URL": ""}, name="cache-probe") as worker:

        def worker_state() -> dict:
            return worker.client.send_task("cachectl.process_cache_state", queue=worker.queue).get(timeout=60)

        before = worker_state()
        assert before["pid"] != os.getpid() and before["pid"] != worker.pid  # the forked pool process
        target = before["capacity"] + 321
        applied_at = time.monotonic()
        cache_settings_apply(actor="ops-alice", reason="celery convergence", capacity=target)
        state = worker_state()
        while state["capacity"] != target and time.monotonic() - applied_at < 5.0:
            time.sleep(0.1)
            state = worker_state()
        assert state["capacity"] == target, state
        assert state["pid"] == before["pid"]
        assert state["settings_generation"] == before["settings_generation"] + 1
    # Only this app's errors fail this test (other apps' initialisers log their own).
    assert "cachectl/" not in worker.output and "initialiser cachectl" not in worker.output, worker.output
