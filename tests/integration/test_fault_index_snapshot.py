"""Issue 16, faults of the index snapshot on disk under a running stack (private Postgres and Redis, gunicorn x2, a
Celery worker and ``celery beat`` running the automatic recovery). ``CADML_INDEX_DIR`` is a small tmpfs that the
test mounts (and unmounts), so that it can make it read-only or fill it.

For each fault the test damages the published snapshot, reloads gunicorn's workers (SIGHUP: new workers load the
index from the snapshot, as after a restart) and watches the index state in Postgres:

* truncated, bit-flipped, deleted: the new workers refuse the snapshot (``snapshot_corrupt`` / ``snapshot_missing``),
  the version is degraded and served exactly from numpy, and beat's recovery rebuilds a good snapshot (restored);
* index directory read-only, disk full (the snapshot is bit-flipped first so that a rebuild is needed): every
  recovery attempt fails (``recovery_failed`` events, ``faiss_recovery_attempts_total{result="error"}``) and the
  version stays degraded and exact; once the directory is writable again, or the filler is deleted, the next attempt
  restores it.

A client sends similarity queries the whole time: every answer is a 200 within 60 s (a SIGHUP leaves no worker
ready until the new ones have booted: the slowest answer is reported) whose top 5 keys are the exact top 5 (float64
cosine over the vectors the test wrote), also while the old workers still serve the snapshot they loaded (they map
this host's verified, read-only copy of it, never the damaged file); at most one query per SIGHUP goes unanswered
(its connection reset as the old worker stopped), never a failed answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import requests

from tests.integration.fault_stack import TrafficLoop, metric_total, start_fault_stack
from tests.integration.live_stack import wait_until

pytestmark = pytest.mark.integration

N, DIMENSION, K = 2000, 24, 5
TMPFS_BYTES = 4 * 1024 * 1024
RELOADS = 5  # one SIGHUP per fault


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fault-snapshot")
    index_dir = workdir / "index"
    index_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0755", "tmpfs", str(index_dir)],
                   check=True, capture_output=True)
    try:
        live = start_fault_stack(workdir, extra_env={
            "CADML_INDEX_DIR": str(index_dir), "CADML_RECOVERY_TICK_SECONDS": "1",
            "CADML_RECOVERY_BASE_SECONDS": "0.5", "CADML_RECOVERY_CAP_SECONDS": "2", "CADML_FLAP_THRESHOLD": "100",
            "CADML_FEATURE_VERSION": "v4"})
        live.index_dir = index_dir
        try:
            live.live.start_celery_beat()
            yield live
        finally:
            live.stop()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(index_dir)], capture_output=True)
        subprocess.run(["umount", str(index_dir)], check=True, capture_output=True)


def _vectors() -> np.ndarray:
    return np.random.default_rng(21).standard_normal((N, DIMENSION)).astype(np.float32)


def _exact_top(vectors: np.ndarray, query: np.ndarray) -> list[str]:
    v = vectors.astype(np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    scores = v @ (query.astype(np.float64) / np.linalg.norm(query))
    return [f"s-{i}" for i in np.argsort(-scores, kind="stable")[:K]]


def _events(stack) -> list[tuple[int, str, str]]:
    return [tuple(row) for row in stack.postgres.query(
        "SELECT id, event, reason FROM vectors_indexevent WHERE feature_version = 'v4' ORDER BY id")]


def _state(stack) -> tuple[bool, str]:
    rows = stack.postgres.query("SELECT degraded, degraded_reason FROM vectors_indexstate WHERE feature_version = 'v4'")
    return rows[0] if rows else (False, "")


def _snapshot_file(stack):
    manifest = json.loads((stack.index_dir / "v4" / "manifest.json").read_text())
    return stack.index_dir / "v4" / manifest["index_file"]


def _flip(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def _reload_gunicorn(stack) -> None:
    master = next(p for p in stack.live.processes if p.name == "gunicorn").process.pid
    os.kill(master, signal.SIGHUP)


def _fill(stack):
    free = os.statvfs(stack.index_dir)
    filler = stack.index_dir / "filler"
    with open(filler, "wb") as handle:
        try:
            handle.write(b"\0" * (free.f_bavail * free.f_frsize))
        except OSError:
            pass
    return filler


def test_damaged_or_unwritable_snapshots_degrade_to_exact_search_and_recover_by_themselves(stack):
    vectors = _vectors()
    response = requests.post(stack.base_url + "/api/v1/vectors/", headers=stack.headers(), timeout=120, json={
        "feature_version": "v4", "vectors": [{"key": f"s-{i}", "values": v.tolist()} for i, v in enumerate(vectors)]})
    assert response.status_code == 201, response.text
    rebuilt = requests.post(stack.base_url + "/api/v1/vectors/index/rebuild/", headers=stack.headers(ops=True),
                            timeout=120, json={"feature_version": "v4", "reason": "first snapshot"})
    assert rebuilt.status_code == 200, rebuilt.text
    assert _snapshot_file(stack).exists()

    # one connection per query: a SIGHUP closes the old workers' idle keep-alive connections, and a request sent on
    # one at that moment is reset before any worker reads it (HTTP keep-alive's race, not an answer of the service)
    headers = {**stack.headers(), "Connection": "close"}
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((500, DIMENSION)).astype(np.float32)

    def similarity(i):
        return "POST", "/api/v1/vectors/similarity/", {"headers": headers, "json": {
            "vector": queries[i % len(queries)].tolist(), "k": K, "feature_version": "v4"}}

    def answer(r):
        sent = json.loads(r.request.body)["vector"]
        body = r.json()
        return json.dumps({"exact": [h["key"] for h in body["results"]] == _exact_top(vectors, np.asarray(sent)),
                           "degraded": body["degraded"]})

    # a SIGHUP replaces every worker at once (gunicorn stops the old ones without waiting for the new ones to boot):
    # queries sent meanwhile wait in the listen backlog for as long as a worker takes to boot and load the index
    traffic = TrafficLoop(stack.base_url, {"similarity": (similarity, answer)}, pause=0.05, timeout=60.0)
    failures_before = metric_total(stack, "faiss_recovery_attempts_total", result="error")

    windows: list[tuple[float, float]] = []  # damage done -> new workers degraded: old workers still map the file

    def fault(name, damage, expected_reason, *, cause=None, remove_cause=None):
        first = len(_events(stack))
        damaged_at = time.monotonic()
        damage()
        if cause is not None:
            cause()
        started = time.monotonic()
        _reload_gunicorn(stack)
        wait_until(lambda: any(e[1] == "degraded" for e in _events(stack)[first:]), timeout=60,
                   what=f"{name}: the degradation", processes=stack.live.processes)
        degraded_at = time.monotonic()
        windows.append((damaged_at, degraded_at))
        degraded = next(e for e in _events(stack)[first:] if e[1] == "degraded")
        assert degraded[2] == expected_reason, (name, degraded)
        failed = 0
        if remove_cause is not None:
            wait_until(lambda: sum(e[1] == "recovery_failed" for e in _events(stack)[first:]) >= 2, timeout=60,
                       what=f"{name}: failing recovery attempts", processes=stack.live.processes)
            assert _state(stack)[0] is True  # still degraded, served exactly
            failed = sum(e[1] == "recovery_failed" for e in _events(stack)[first:])
            remove_cause()
        cause_gone = time.monotonic()
        wait_until(lambda: any(e[1] == "restored" for e in _events(stack)[first:]) and not _state(stack)[0],
                   timeout=60, what=f"{name}: the automatic recovery", processes=stack.live.processes)
        restored_at = time.monotonic()
        assert _snapshot_file(stack).exists()
        return {"reason": degraded[2], "degraded_after_s": round(degraded_at - started, 1),
                "recovery_failed_events": failed, "restored_after_cause_gone_s": round(restored_at - cause_gone, 1)}

    def truncate():
        path = _snapshot_file(stack)
        os.truncate(path, path.stat().st_size // 2)

    def read_only():
        subprocess.run(["mount", "-o", "remount,ro", str(stack.index_dir)], check=True, capture_output=True)

    def writable():
        subprocess.run(["mount", "-o", "remount,rw", str(stack.index_dir)], check=True, capture_output=True)

    filler = stack.index_dir / "filler"
    report = {}
    traffic.start()
    try:
        report["truncated"] = fault("truncated", truncate, "snapshot_corrupt")
        report["bit_flipped"] = fault("bit-flipped", lambda: _flip(_snapshot_file(stack)), "snapshot_corrupt")
        report["deleted"] = fault("deleted", lambda: _snapshot_file(stack).unlink(), "snapshot_missing")
        report["read_only"] = fault("read-only", lambda: _flip(_snapshot_file(stack)), "snapshot_corrupt",
                                    cause=read_only, remove_cause=writable)
        report["disk_full"] = fault("disk full", lambda: _flip(_snapshot_file(stack)), "snapshot_corrupt",
                                    cause=lambda: _fill(stack), remove_cause=lambda: filler.unlink())
        time.sleep(2)  # answers after the last recovery
    finally:
        traffic.stop()
    samples = traffic.samples
    # a query whose connection a worker accepted as the SIGHUP stopped it is reset unanswered (never a failed
    # answer): at most one per reload
    unanswered = [s for s in samples if s.status is None]
    assert len(unanswered) <= RELOADS and all(s.error == "ConnectionError" for s in unanswered), unanswered
    answered = [s for s in samples if s.status is not None]
    assert answered and all(s.status == 200 for s in answered), [(s.status, s.code) for s in answered
                                                                 if s.status != 200][:5]
    answers = [json.loads(s.ack) for s in answered]

    def in_window(s) -> bool:
        return any(s.started < end and s.ended > start for start, end in windows)

    # every answer is exact, also between a damage and the new workers' load: the old workers serve the verified
    # copy they mapped (vectors.index.snapshot.pinned_snapshot), never the damaged file
    inexact = [s for s, a in zip(answered, answers) if not a["exact"]]
    assert not inexact, [(s.started, in_window(s), windows) for s in inexact]
    report["answered_in_damage_windows"] = sum(in_window(s) for s in answered)
    report["queries"] = len(answers)
    report["unanswered"] = len(unanswered)
    report["slowest_answer_s"] = round(max(s.ended - s.started for s in answered), 1)
    report["answered_degraded"] = sum(a["degraded"] for a in answers)
    assert report["answered_degraded"] > 0
    report["recovery_errors_metric"] = (metric_total(stack, "faiss_recovery_attempts_total", result="error")
                                        - failures_before)
    assert report["recovery_errors_metric"] >= report["read_only"]["recovery_failed_events"] + \
        report["disk_full"]["recovery_failed_events"]
    health = requests.get(stack.base_url + "/api/v1/health/", timeout=30).json()["sections"]["vectors"]
    assert health["status"] == "ok" and not health["versions"]["v4"]["degraded"], health
    print("\nFAULT index snapshot:", json.dumps(report))
