"""Two hosts on one machine (tests/integration/shared_hosts.py): each runs gunicorn (1 worker) and a Celery worker
with its own var/ and index folder; they share the database, the broker and the storage of originals and
snapshots. A part ingested through host A is found by similarity on host B, and after A rebuilds the index, B
loads A's published snapshot from the storage instead of rebuilding it from the rows."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.integration.shared_hosts import METRICS_TOKEN, SharedHosts
from vectors.index.snapshot import read_manifest

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "cad-samples"
BUDGET_SECONDS = 90


def _in_parallel(*calls) -> None:
    errors: list[BaseException] = []

    def run(call):
        try:
            call()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _metric(base_url: str, name: str, labels: str) -> float:
    body = requests.get(base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30).text
    total = 0.0
    for line in body.splitlines():
        if line.startswith(f"{name}{{") and all(part in line for part in labels.split(",")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _top_keys(base_url: str, headers: dict, vector: list[float]) -> list[str]:
    response = requests.post(base_url + "/api/v1/vectors/similarity/", headers=headers, timeout=60,
                             json={"vector": vector, "k": 3, "feature_version": "v4"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] is False, body
    return [hit["key"] for hit in body["results"]]


def _vector(base_url: str, headers: dict, key: str) -> list[float]:
    response = requests.get(base_url + f"/api/v1/vectors/{key}/", headers=headers,
                            params={"feature_version": "v4"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["values"]


@pytest.mark.integration
def test_a_part_ingested_on_one_host_is_found_and_its_snapshot_loaded_on_the_other(tmp_path):
    started = time.monotonic()
    hosts = SharedHosts(tmp_path)
    try:
        hosts.start()
        a, b = hosts.add_host("host-a"), hosts.add_host("host-b")
        _in_parallel(lambda: a.live.start_service(workers=1), lambda: b.live.start_service(workers=1),
                     a.live.start_celery_worker, b.live.start_celery_worker)
        headers = hosts.headers()

        # An upload to host A: its original goes to the shared storage, its vector to the shared database.
        data = (SAMPLES / "stl" / "trimesh__angle_block.STL").read_bytes()
        response = requests.post(a.base_url + "/api/v1/analyze/", headers=headers, timeout=120,
                                 files={"file": ("angle_block.stl", data)},
                                 data={"feature_version": "v4", "classify": "false", "register_vector": "true"})
        assert response.status_code == 201, response.text
        uploaded = response.json()["vector"]["key"]
        assert _top_keys(b.base_url, headers, _vector(b.base_url, headers, uploaded))[0] == uploaded

        # Files ingested through host A's command run on the Celery workers of either host.
        folder = tmp_path / "to-ingest"
        folder.mkdir()
        for name in ("trimesh__box.STL", "trimesh__round.stl"):
            shutil.copy(SAMPLES / "stl" / name, folder / name)
        summary = hosts.manage("ingest", str(folder), "--feature-version", "v4", host="host-a")
        assert "ingest (celery): 2 created, 0 duplicates skipped, 0 failed of 2 files" in summary, summary
        celery_logs = "".join(m.log_path.read_text() for h in (a, b) for m in h.live.processes if m.name == "celery")
        assert celery_logs.count("Task features.cad_file_import_stored[") == 2

        # Host A rebuilds and publishes; host B's folder has no snapshot until it needs one.
        response = requests.post(a.base_url + "/api/v1/vectors/index/rebuild/", headers=hosts.headers(ops=True),
                                 json={"feature_version": "v4", "reason": "two hosts"}, timeout=120)
        assert response.status_code == 200, response.text
        generation = response.json()["snapshot_generation"]
        published = hosts.shared_storage / "index-snapshots" / "v4" / str(generation) / "manifest.json"
        assert published.exists()
        assert read_manifest(a.index_dir, "v4").generation == generation
        assert not (b.index_dir / "v4" / "manifest.json").exists()
        fetched_before = _metric(b.base_url, "index_snapshot_transfers_total", 'direction="fetch",result="success"')

        # Host B's next search loads A's snapshot (fetched, verified, mapped) and finds every part.
        assert _top_keys(b.base_url, headers, _vector(b.base_url, headers, uploaded))[0] == uploaded
        assert read_manifest(b.index_dir, "v4") == read_manifest(a.index_dir, "v4")
        assert _metric(b.base_url, "index_snapshot_transfers_total",
                       'direction="fetch",result="success"') == fetched_before + 1
        assert f"Loaded index snapshot v4 generation {generation} from the snapshot storage" in b.logs()
        status = requests.get(b.base_url + "/api/v1/vectors/index/", headers=headers, timeout=30).json()
        v4 = next(v for v in status["versions"] if v["feature_version"] == "v4")
        assert v4["degraded"] is False and v4["snapshot"]["generation"] == generation
        listed = requests.get(b.base_url + "/api/v1/vectors/", headers=headers, timeout=30,
                              params={"feature_version": "v4", "limit": 10}).json()
        assert listed["count"] == 3
        for item in listed["results"]:
            assert _top_keys(b.base_url, headers, _vector(b.base_url, headers, item["key"]))[0] == item["key"]
        assert "Traceback" not in a.logs() + b.logs()
    finally:
        hosts.stop()
    assert time.monotonic() - started < BUDGET_SECONDS
