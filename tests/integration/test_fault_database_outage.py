"""Issue 16, fault 1: Postgres stopped under steady analyze + similarity + vector-write traffic, then started.

The stack (gunicorn with 2 workers, a Celery worker) runs on a PRIVATE Postgres cluster that the test stops with
``pg_ctl stop -m fast`` for ``CADML_FAULT_DB_OUTAGE_SECONDS`` (default 20, the issue's figure) while three client
threads keep sending requests. Proven:

* every request sent and answered while Postgres was down got 503 ``database_unavailable`` with ``Retry-After``;
* no request at any time got a 500 (or another 5xx), and none went without an answer within the client timeout;
* ``health/ready/`` answered 503 ``database_unavailable`` during the outage;
* after ``pg_ctl start`` returned, readiness and every kind of request succeeded again within 5 s;
* every write acknowledged (201) before or after the outage is in the database afterwards, counted.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import requests

from tools.stress.payloads import binary_stl_box
from tests.integration.fault_stack import Sample, TrafficLoop, random_vector, start_fault_stack

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = float(os.environ.get("CADML_FAULT_DB_OUTAGE_SECONDS", "20"))
CONNECT_TIMEOUT_SECONDS = 3
CLIENT_TIMEOUT_SECONDS = 15.0  # what "a hang" means: well past the connect timeout
RECOVERY_BUDGET_SECONDS = 5.0
SUCCESS = {"write": 201, "similarity": 200, "analyze": 201}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with start_fault_stack(tmp_path_factory.mktemp("fault-db"),
                             extra_env={"CADML_DATABASE_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS)}) as live:
        yield live


def _traffic(stack) -> TrafficLoop:
    headers = stack.headers()

    def write(i):
        return "POST", "/api/v1/vectors/", {"headers": headers, "json": {
            "key": f"outage-write-{i}", "values": random_vector(i), "feature_version": "v4"}}

    def similarity(i):
        return "POST", "/api/v1/vectors/similarity/", {"headers": headers, "json": {
            "vector": random_vector(10_000 + i), "k": 3, "feature_version": "v4"}}

    def analyze(i):
        box = binary_stl_box(10.0 + i * 0.01, 20.0, 5.0, name=f"outage {i}")
        return "POST", "/api/v1/analyze/", {"headers": headers, "files": {"file": (f"outage-{i}.stl", box)},
                                            "data": {"feature_version": "v4", "classify": "false"}}

    return TrafficLoop(stack.base_url, {
        "write": (write, lambda r: r.json()["key"]),
        "similarity": (similarity, lambda r: None),
        "analyze": (analyze, lambda r: str(r.json()["id"])),
    }, timeout=CLIENT_TIMEOUT_SECONDS)


def _ready(stack) -> requests.Response:
    return requests.get(stack.base_url + "/api/v1/health/ready/", timeout=CLIENT_TIMEOUT_SECONDS)


def _summary(samples: list[Sample]) -> dict:
    by_kind: dict[str, dict[str, int]] = {}
    for s in samples:
        label = str(s.status) if s.status is not None else f"no-answer:{s.error}"
        if s.code:
            label += f" {s.code}"
        by_kind.setdefault(s.kind, {}).setdefault(label, 0)
        by_kind[s.kind][label] += 1
    return by_kind


def test_postgres_outage_is_answered_503_database_unavailable_and_loses_no_acknowledged_write(stack):
    for i in range(5):  # something to find
        response = requests.post(stack.base_url + "/api/v1/vectors/", headers=stack.headers(), timeout=30,
                                 json={"key": f"seed-{i}", "values": random_vector(50_000 + i), "feature_version": "v4"})
        assert response.status_code == 201, response.text

    traffic = _traffic(stack)
    ready_during: list[tuple[float, int, str | None, str | None]] = []
    stop_ready = threading.Event()

    def poll_ready():
        while not stop_ready.is_set():
            started = time.monotonic()
            try:
                response = _ready(stack)
                code = response.json().get("code") if response.status_code != 200 else None
                ready_during.append((started, response.status_code, code, response.headers.get("Retry-After")))
            except requests.RequestException as exc:
                ready_during.append((started, -1, type(exc).__name__, None))
            time.sleep(0.25)

    traffic.start()
    try:
        time.sleep(5)  # steady traffic before the fault
        stack.postgres.stop()
        outage_began = time.monotonic()
        poller = threading.Thread(target=poll_ready, daemon=True)
        poller.start()
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_began)))
        stop_ready.set()
        poller.join(CLIENT_TIMEOUT_SECONDS + 5)
        outage_ended = time.monotonic()
        stack.postgres.start()
        back = time.monotonic()
        while _ready(stack).status_code != 200:
            assert time.monotonic() - back < RECOVERY_BUDGET_SECONDS, "not ready 5 s after Postgres came back"
            time.sleep(0.1)
        ready_after = time.monotonic() - back
        time.sleep(RECOVERY_BUDGET_SECONDS + 1)
    finally:
        traffic.stop()
    samples = list(traffic.samples)
    summary = _summary(samples)
    report = {"outage_seconds": round(outage_ended - outage_began, 1), "ready_after_seconds": round(ready_after, 2),
              "requests": len(samples), "by_kind": summary}

    # nothing went unanswered, nothing was a 500 (or any 5xx other than 503)
    unanswered = [s for s in samples if s.status is None]
    assert not unanswered, f"requests without an answer within {CLIENT_TIMEOUT_SECONDS} s: {report}"
    server_errors = [s for s in samples if s.status >= 500 and s.status != 503]
    assert not server_errors, f"5xx other than 503: {report}"

    # every 503 is database_unavailable with Retry-After; every other answer is the kind's success
    for s in samples:
        if s.status == 503:
            assert s.code == "database_unavailable" and s.retry_after and int(s.retry_after) >= 1, report
        else:
            assert s.status == SUCCESS[s.kind], (s, report)

    # during the outage: 503 only, and for every kind
    during = [s for s in samples if s.started >= outage_began and s.ended <= outage_ended]
    assert {s.kind for s in during} == set(SUCCESS), report
    assert all(s.status == 503 for s in during), report
    assert len(during) >= 20, report
    assert ready_during and all(status == 503 and code == "database_unavailable" and retry_after
                                for _, status, code, retry_after in ready_during), ready_during

    # healthy again within 5 s: every kind answered its success once Postgres had been back for that long
    recovered = [s for s in samples if s.started >= back + RECOVERY_BUDGET_SECONDS]
    assert {s.kind for s in recovered} == set(SUCCESS), report
    assert all(s.status == SUCCESS[s.kind] for s in recovered), report

    # every acknowledged write is there: vector keys and analysis ids, counted
    acked_keys = {s.ack for s in samples if s.kind == "write" and s.ack}
    acked_analyses = {int(s.ack) for s in samples if s.kind == "analyze" and s.ack}
    acked_before = sum(1 for s in samples if s.ack and s.ended <= outage_began)
    acked_after = sum(1 for s in samples if s.ack and s.started >= outage_ended)
    assert acked_before > 0 and acked_after > 0, report
    stored_keys = {row[0] for row in stack.postgres.query(
        "SELECT key FROM vectors_vector WHERE feature_version = 'v4' AND key LIKE 'outage-write-%'")}
    stored_analyses = {row[0] for row in stack.postgres.query("SELECT id FROM features_analysis")}
    assert acked_keys <= stored_keys, sorted(acked_keys - stored_keys)
    assert acked_analyses <= stored_analyses, sorted(acked_analyses - stored_analyses)
    report.update(during_outage=len(during), acked_vector_writes=len(acked_keys), acked_analyses=len(acked_analyses),
                  acked_before_outage=acked_before, acked_after_outage=acked_after,
                  stored_vector_writes=len(stored_keys & acked_keys), stored_analyses=len(stored_analyses &
                                                                                             acked_analyses),
                  ready_polls_during_outage=len(ready_during))

    # the processes survived: both gunicorn workers serve, the Celery worker is alive
    for managed in stack.live.processes:
        assert managed.alive(), f"{managed.name} died:\n{managed.log_tail()}"
    print("\nFAULT database outage:", json.dumps(report, sort_keys=True))
