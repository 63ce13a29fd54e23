"""Issue 16, ``kill -9`` of a Celery worker mid-migration: a vector migration (``POST vectors/migrate/``) runs in a
real Celery worker (private Redis broker, private Postgres, gunicorn x2); the test SIGKILLs it half-way through.

* Phase 1, a worker starting: once the killed run's heartbeat is older than ``CADML_MIGRATION_ABANDONED_SECONDS``, a
  new worker starts; its start-up check hands the run over and it completes.
* Phase 2, beat: a second migration (into a third version) runs in that worker; the test SIGKILLs only its pool
  child (the process executing the run, and its descendants), the worker's main process lives on and replaces it;
  beat's periodic check (``celery beat`` running) hands the run over.

Throughout, a poller reads in one statement the served version and the number of vectors in the target version:
it is always (old version, none) or (new version, all), never a half-migrated target; the health endpoint's served
version flips only once the run is completed. Every vector acknowledged before the kill (written in the source
version, also during the run) is in the target version afterwards, counted; the run's attempts, the audit rows and
``vector_migrate_total{status="resumed"}`` say what happened.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest
import requests

from tools.stress.soak import _children, process_tree
from tests.integration.fault_stack import TrafficLoop, metric_total, process_alive, start_fault_stack
from tests.integration.live_stack import ManagedProcess, wait_until

pytestmark = pytest.mark.integration

N = 6000
ABANDONED_SECONDS = 4
MIGRATE = "/api/v1/vectors/migrate/"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with start_fault_stack(tmp_path_factory.mktemp("fault-migration-kill"), extra_env={
        "CADML_FEATURE_VERSION": "v3", "CADML_MIGRATION_BATCH_SIZE": "40",
        "CADML_MIGRATION_ABANDONED_SECONDS": str(ABANDONED_SECONDS), "CADML_MIGRATION_RESUME_TICK_SECONDS": "1"}) as live:
        yield live


def _run_row(stack, run_id: int) -> dict:
    status, processed, total, attempts, heartbeat = stack.postgres.query(
        f"SELECT status, processed, total, attempts, heartbeat_at FROM vectors_migrationrun WHERE id = {run_id}")[0]
    return {"status": status, "processed": processed, "total": total, "attempts": attempts, "heartbeat": heartbeat}


class ServedPoller:
    """Reads (served version, vectors in ``target``) in one statement, and the health endpoint's served version,
    until stopped."""

    def __init__(self, stack, target: str):
        self.stack, self.target = stack, target
        self.snapshots: list[tuple[str, int]] = []
        self.health: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _read(self) -> None:
        self.snapshots.append(self.stack.postgres.query(
            "SELECT (SELECT feature_version FROM vectors_servedversion WHERE singleton = 1), "
            f"(SELECT count(*) FROM vectors_vector WHERE feature_version = '{self.target}')")[0])

    def _loop(self) -> None:
        i = 0
        while not self._stop.is_set():
            self._read()
            if i % 5 == 0:
                body = requests.get(self.stack.base_url + "/api/v1/health/", timeout=10).json()
                self.health.append(body["sections"]["vectors"]["served_version"]["feature_version"])
            i += 1
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        self._read()  # once more after the run: the loop may have stopped before its first read after the switch


def _kill_mid_run(stack, run_id: int, *, worker: ManagedProcess, whole_worker: bool) -> dict:
    """Once the run has staged a quarter of its vectors, SIGKILLs the worker's process group (``whole_worker``) or
    only its pool child (the process executing the run); waits until every killed process and its descendants
    are gone; returns the run's row."""
    wait_until(lambda: _run_row(stack, run_id)["processed"] >= N // 4, timeout=60, interval=0.01,
               what="the migration to get going", processes=[worker])
    if whole_worker:
        tree = process_tree(worker.process.pid)
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)
        stack.live.processes.remove(worker)
    else:
        (child,) = _children(worker.process.pid)
        tree = process_tree(child)
        os.kill(child, signal.SIGKILL)
    wait_until(lambda: not any(process_alive(pid) for pid in tree), timeout=10,
               what="the killed processes and their descendants to be gone")
    row = _run_row(stack, run_id)
    assert row["status"] == "running" and N // 4 <= row["processed"] < row["total"], row
    return row


def _wait_for_start_check(worker: ManagedProcess) -> None:
    """Waits for the worker's start-up check for abandoned runs to have run."""
    wait_until(lambda: "Abandoned-migration check (worker_start)" in worker.log_tail(1000), timeout=60,
               what=f"the start-up check of {worker.name}", processes=[worker])


def _start_migration(stack, from_version: str, to_version: str) -> int:
    response = requests.post(stack.base_url + MIGRATE, headers=stack.headers(ops=True), timeout=60,
                             json={"from_version": from_version, "to_version": to_version, "dry_run": False})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _check_served(poller: ServedPoller, source: str, target: str, migrated: int) -> dict:
    allowed = {(source, 0), (target, migrated)}
    assert set(poller.snapshots) <= allowed, sorted(set(poller.snapshots) - allowed)[:5]
    flipped = [i for i, snap in enumerate(poller.snapshots) if snap[0] == target]
    assert flipped and all(snap[0] == target for snap in poller.snapshots[flipped[0]:])  # flips once, for good
    health = poller.health + [requests.get(poller.stack.base_url + "/api/v1/health/", timeout=10)
                              .json()["sections"]["vectors"]["served_version"]["feature_version"]]
    assert health[-1] == target and health == sorted(health, key=lambda version: version == target), health
    return {"polls": len(poller.snapshots), "polls_before_publish": flipped[0],
            "health_polls": len(health)}


def _acknowledged_writes(stack, prefix: str, version: str) -> TrafficLoop:
    headers = stack.headers()

    def write(i):
        values = np.random.default_rng(i).uniform(0, 10, size=22 if version == "v3" else 24).round(4).tolist()
        return "POST", "/api/v1/vectors/", {"headers": headers, "json": {
            "key": f"{prefix}-{i}", "values": values, "feature_version": version}}

    return TrafficLoop(stack.base_url, {"write": (write, lambda r: r.json()["key"])}, pause=0.01)


def _keys(stack, version: str, prefix: str) -> set[str]:
    return {row[0] for row in stack.postgres.query(
        f"SELECT key FROM vectors_vector WHERE feature_version = '{version}' AND key LIKE '{prefix}-%'")}


def test_a_migration_whose_worker_is_sigkilled_is_resumed_by_another_and_never_served_half_done(stack):
    rng = np.random.default_rng(11)
    for start in range(0, N, 3000):
        bulk = [{"key": f"seed-{i}", "values": rng.uniform(0, 10, size=22).round(4).tolist()}
                for i in range(start, start + 3000)]
        response = requests.post(stack.base_url + "/api/v1/vectors/", headers=stack.headers(), timeout=120,
                                 json={"feature_version": "v3", "vectors": bulk})
        assert response.status_code == 201, response.text
    served = requests.get(stack.base_url + "/api/v1/health/", timeout=30).json()  # records the served version
    assert served["sections"]["vectors"]["served_version"]["feature_version"] == "v3"
    report: dict = {}
    resumed_before = metric_total(stack, "vector_migrate_total", status="resumed")

    # ---- phase 1: the whole worker killed, then a new worker's start-up check resumes the run ------------------
    worker = next(p for p in stack.live.processes if p.name == "celery")
    _wait_for_start_check(worker)  # done before the run exists: it cannot take the run for abandoned
    writes = _acknowledged_writes(stack, "during-1", "v3")
    with ServedPoller(stack, "v4") as poller:
        run_id = _start_migration(stack, "v3", "v4")
        writes.start()
        try:
            killed = _kill_mid_run(stack, run_id, worker=worker, whole_worker=True)
        finally:
            writes.stop()
        killed_at = time.monotonic()
        # the served version is untouched by the half-done run
        assert stack.postgres.query("SELECT feature_version FROM vectors_servedversion")[0][0] == "v3"
        # a worker starting before the heartbeat is stale would leave the run to its (dead) holder: wait it out
        age = (datetime.now(timezone.utc) - killed["heartbeat"]).total_seconds()
        time.sleep(max(0.0, ABANDONED_SECONDS + 0.5 - age))
        restarted = stack.live.start_celery_worker(name="celery-after-kill")
        wait_until(lambda: _run_row(stack, run_id)["status"] == "completed", timeout=60,
                   what="the resumed migration to complete", processes=[restarted])
        completed_at = time.monotonic()
    acked = {s.ack for s in writes.samples if s.ack}
    row = _run_row(stack, run_id)
    assert row["attempts"] == 2 and row["processed"] == N + len(acked), row
    assert _keys(stack, "v4", "seed") == {f"seed-{i}" for i in range(N)}
    assert acked <= _keys(stack, "v4", "during-1"), len(acked - _keys(stack, "v4", "during-1"))
    report["worker_start"] = {
        "vectors": N, "acknowledged_during_run": len(acked), "staged_when_killed": killed["processed"],
        "kill_to_completed_s": round(completed_at - killed_at, 1), "attempts": row["attempts"],
        **_check_served(poller, "v3", "v4", N + len(acked))}
    audits = stack.postgres.query("SELECT before, after FROM vectors_vectoropsaudit "
                                  "WHERE action = 'vector_migration_resume' ORDER BY id")
    assert [(a[1]["run_id"], a[1]["trigger"], a[0]["status"]) for a in audits] == [(run_id, "worker_start", "running")]

    # ---- phase 2: the worker's pool child is killed (the worker lives on); beat's check resumes the run --------
    stack.live.start_celery_beat()
    with ServedPoller(stack, "v2") as poller:
        back_id = _start_migration(stack, "v4", "v2")
        killed = _kill_mid_run(stack, back_id, worker=restarted, whole_worker=False)
        killed_at = time.monotonic()
        wait_until(lambda: _run_row(stack, back_id)["status"] == "completed", timeout=60,
                   what="beat to resume the second migration", processes=stack.live.processes)
        completed_at = time.monotonic()
    row = _run_row(stack, back_id)
    assert row["attempts"] == 2, row
    assert row["processed"] == N + len(acked) and _keys(stack, "v2", "seed") == {f"seed-{i}" for i in range(N)}
    report["beat"] = {"staged_when_killed": killed["processed"],
                      "kill_to_completed_s": round(completed_at - killed_at, 1), "attempts": row["attempts"],
                      **_check_served(poller, "v4", "v2", N + len(acked))}
    audits = stack.postgres.query("SELECT after FROM vectors_vectoropsaudit "
                                  "WHERE action = 'vector_migration_resume' ORDER BY id")
    assert [(a[0]["run_id"], a[0]["trigger"]) for a in audits] == [(run_id, "worker_start"), (back_id, "beat")]
    report["resumed_metric"] = metric_total(stack, "vector_migrate_total", status="resumed") - resumed_before
    assert report["resumed_metric"] == 2
    print("\nFAULT migration worker kill:", json.dumps(report))
