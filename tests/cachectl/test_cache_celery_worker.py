"""A real Celery worker process (prefork, initialised by worker_process_init) applies a change within 5 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery

from cachectl.services import cache_settings_apply

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/6"


@pytest.mark.integration
def test_a_celery_worker_process_applies_a_change_within_5_seconds(django_subprocess_env):
    queue = f"cache-probe-{uuid.uuid4().hex[:8]}"
    backend = BROKER if BROKER.startswith("redis") else "rpc://"
    env = {**django_subprocess_env, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": backend,
           "CADML_CACHE_REDIS_URL": ""}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--pool", "prefork", "--concurrency", "1",
         "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    client = Celery("cachectl-probe", broker=BROKER, backend=backend, set_as_current=False)

    def worker_state() -> dict:
        return client.send_task("cachectl.process_cache_state", queue=queue).get(timeout=60)

    try:
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
    finally:
        worker.terminate()  # warm shutdown of the main process, which stops its pool
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate()
        client.close()
    # Only this app's errors fail this test (other apps' initialisers log their own).
    assert "cachectl/" not in output and "initialiser cachectl" not in output, output
