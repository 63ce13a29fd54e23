"""Issue 16, broker down: a private Redis (the Celery broker, append-only file on) stopped under a running stack.

* A migration enqueued before the outage (the Celery worker is stopped first, so the message waits in Redis)
  completes after Redis and a worker are back.
* During the outage every call that enqueues work (``POST vectors/migrate/``) answers 503 ``broker_unavailable``
  with ``Retry-After`` within a few seconds, never a 500 or a hang; the calls that need no broker (vector writes,
  similarity) keep answering; ``health/`` reports the broker down.
* After the outage, enqueueing works again.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests

from tests.integration.fault_stack import start_fault_stack
from tests.integration.live_stack import wait_until

pytestmark = pytest.mark.integration

MIGRATE = "/api/v1/vectors/migrate/"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with start_fault_stack(tmp_path_factory.mktemp("fault-broker"), persistent_broker=True) as live:
        yield live


def _run(stack, run_id: int) -> dict:
    response = requests.get(stack.base_url + f"{MIGRATE}runs/{run_id}/", headers=stack.headers(), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_broker_outage_refuses_new_work_with_503_and_loses_no_queued_work(stack):
    ops = stack.headers(ops=True)
    rng = np.random.default_rng(5)
    bulk = [{"key": f"b-{i}", "values": rng.uniform(0, 10, size=22).round(4).tolist()} for i in range(300)]
    response = requests.post(stack.base_url + "/api/v1/vectors/", headers=stack.headers(), timeout=60,
                             json={"feature_version": "v3", "vectors": bulk})
    assert response.status_code == 201, response.text

    worker = next(p for p in stack.live.processes if p.name == "celery")
    worker.stop()
    stack.live.processes.remove(worker)
    queued = requests.post(stack.base_url + MIGRATE, headers=ops, timeout=60,
                           json={"from_version": "v3", "to_version": "v4", "dry_run": False})
    assert queued.status_code == 202, queued.text
    queued_id = queued.json()["id"]
    assert _run(stack, queued_id)["status"] == "pending"

    stack.redis.stop()
    report = {"during": {}}
    try:
        for i in range(5):
            started = time.monotonic()
            response = requests.post(stack.base_url + MIGRATE, headers=ops, timeout=30,
                                     json={"from_version": "v3", "to_version": "v4", "dry_run": True})
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["code"] == "broker_unavailable" and int(response.headers["Retry-After"]) >= 1, body
            assert elapsed < 10, elapsed
            report["during"].setdefault("enqueue_503_seconds", []).append(round(elapsed, 2))
            failed = _run(stack, body["context"]["run_id"])
            assert failed["status"] == "failed"
        # work that needs no broker is still served
        write = requests.post(stack.base_url + "/api/v1/vectors/", headers=stack.headers(), timeout=30,
                              json={"key": "during-outage", "values": [1.0] * 24, "feature_version": "v4"})
        assert write.status_code == 201, write.text
        search = requests.post(stack.base_url + "/api/v1/vectors/similarity/", headers=stack.headers(), timeout=30,
                               json={"key": "b-1", "k": 3, "feature_version": "v3"})
        assert search.status_code == 200, search.text
        health = requests.get(stack.base_url + "/api/v1/health/", timeout=30).json()
        assert health["sections"]["broker"]["status"] == "down", health
    finally:
        stack.redis.start()
    back = time.monotonic()
    stack.live.start_celery_worker()

    wait_until(lambda: _run(stack, queued_id)["status"] in ("completed", "failed"), timeout=120,
               what="the migration queued before the outage", processes=stack.live.processes)
    assert _run(stack, queued_id)["status"] == "completed", _run(stack, queued_id)
    report["queued_before_outage_completed_seconds_after_restart"] = round(time.monotonic() - back, 1)
    after = requests.post(stack.base_url + MIGRATE, headers=ops, timeout=60,
                          json={"from_version": "v3", "to_version": "v4", "dry_run": True})
    assert after.status_code == 202, after.text
    wait_until(lambda: _run(stack, after.json()["id"])["status"] == "dry_run", timeout=120,
               what="a migration enqueued after the outage", processes=stack.live.processes)
    assert _run(stack, queued_id)["processed"] == 300
    health = requests.get(stack.base_url + "/api/v1/health/", timeout=30).json()
    assert health["sections"]["broker"]["status"] == "ok", health
    print("\nFAULT broker outage:", json.dumps(report))
