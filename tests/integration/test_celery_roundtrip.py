"""A real Celery worker against a real broker round-trips a task."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/6"


@pytest.mark.integration
def test_worker_round_trips_a_task_through_the_broker(django_subprocess_env):
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    backend = BROKER if BROKER.startswith("redis") else "rpc://"
    env = {**django_subprocess_env, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": backend}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--pool", "prefork", "--concurrency", "1",
         "--queues", queue,
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    client = Celery("roundtrip-client", broker=BROKER, backend=backend, set_as_current=False)
    try:
        result = client.send_task("cadml_site.ping", args=["hello"], queue=queue)
        value = result.get(timeout=120)
        assert value["pong"] == "hello"
        assert value["pid"] != worker.pid  # answered by a prefork child process
        # every per-process initialiser (parse pool, index, model, cache...) started in the child
        assert value["initializers"] and set(value["initializers"].values()) == {"ok"}, value["initializers"]
        assert value["frozen_objects"] > 10_000  # the child froze its startup heap (imported code, settings...)
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        client.close()
    assert "Traceback" not in output, output
