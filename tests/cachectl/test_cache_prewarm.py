"""Prewarm from the stored features (real CAD samples through `features`): priority order, counts, metrics,
audit, the command, the endpoint, and the replay in another process."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client import REGISTRY

from cachectl.holder import holder
from cachectl.models import CacheAuditRecord, CacheKeyActivity, CachePrewarmRun
from cachectl.services import cache_prewarm, feature_cache_get, feature_cache_put
from cadml_site.errors import BadRequest
from features.selectors import stored_features
from features.services import cad_file_ingest
from tests.cachectl.conftest import make_sha
from tests.cachectl.test_cache_prewarm_plan import make_hit, make_vector
from tests.cachectl.test_cache_propagation import Probe

SAMPLES = ("pythonocc__cube_binary.stl", "trimesh__multibody.stl", "trimesh__20mm-xyz-cube.stl")


def prewarm_count(result: str) -> float:
    return REGISTRY.get_sample_value("feature_cache_prewarm_total", {"result": result}) or 0.0


@pytest.fixture
def stored_files(db, cad_samples_dir):
    """Three real STL files parsed and stored by the features app: their sha256 keys."""
    shas = []
    for name in SAMPLES:
        data = (cad_samples_dir / "stl" / name).read_bytes()
        shas.append(cad_file_ingest(data=data, name=name).cad_file.sha256)
    return shas


def arrange_tiers(shas):
    """file 0 was hit recently, file 1 is a recently referenced vector, file 2 was hit often days ago; plus a
    recent hit of a file that was never stored."""
    first, second, third = shas
    now = timezone.now()
    CacheKeyActivity.objects.create(sha256=first, version="v2", hits=1, lookups=2, last_hit_at=now,
                                    last_lookup_at=now)
    make_vector(second, "v2", referenced_minutes_ago=1)
    CacheKeyActivity.objects.create(sha256=third, version="v1", hits=40, lookups=41,
                                    last_hit_at=now - timedelta(days=2), last_lookup_at=now - timedelta(days=2))
    unknown = make_hit("never-stored", "v2", minutes_ago=5)
    return unknown


def test_prewarm_loads_in_priority_order_and_counts(stored_files):
    unknown = arrange_tiers(stored_files)
    before = {result: prewarm_count(result) for result in ("loaded", "skipped", "failed")}
    run = cache_prewarm(actor="ops-alice", limit=10, reason="after deploy")
    assert [tuple(entry) for entry in run.entries] == [
        (stored_files[0], "v2", "recent_hits"),
        (unknown, "v2", "recent_hits"),
        (stored_files[1], "v2", "recently_referenced"),
        (stored_files[2], "v1", "low_dimension_high_frequency"),
    ]
    assert run.tiers == {"recent_hits": 2, "recently_referenced": 1, "low_dimension_high_frequency": 1}
    assert (run.loaded, run.skipped, run.failed) == (3, 1, 0)
    for result, expected in (("loaded", 3), ("skipped", 1), ("failed", 0)):
        assert prewarm_count(result) - before[result] == expected
    cache = holder.cache()
    for sha, version in ((stored_files[0], "v2"), (stored_files[1], "v2"), (stored_files[2], "v1")):
        stored = stored_features(sha256=sha, version=version)
        assert cache.peek((sha, version)) == (tuple(stored["values"]), stored["document_id"])
    assert cache.stats().hits == 0  # loading is not a lookup
    assert feature_cache_get(sha256=stored_files[0], version="v2")["document_id"] is not None
    audit = CacheAuditRecord.objects.get(action="prewarm")
    assert audit.after["loaded"] == 3 and audit.reason == "after deploy" and audit.actor == "ops-alice"

    again = cache_prewarm(actor="ops-alice", limit=10)  # everything already cached
    assert (again.loaded, again.skipped, again.failed) == (0, 4, 0)
    assert again.generation == run.generation + 1


def test_prewarm_limit_and_capacity_bound_the_plan(stored_files):
    arrange_tiers(stored_files)
    run = cache_prewarm(actor="ops-alice", limit=1)
    assert run.limit == 1 and run.tiers["recent_hits"] == 1 and run.loaded == 1
    holder.cache().reconfigure(capacity=2)
    run = cache_prewarm(actor="ops-alice", limit=500)
    assert run.limit == 2
    with pytest.raises(BadRequest) as excinfo:
        cache_prewarm(actor="ops-alice", limit=0)
    assert excinfo.value.code == "out_of_bounds"


def test_an_unknown_version_in_the_history_counts_as_failed(stored_files):
    CacheKeyActivity.objects.create(sha256=stored_files[0], version="v9", hits=1, lookups=1,
                                    last_hit_at=timezone.now(), last_lookup_at=timezone.now())
    run = cache_prewarm(actor="ops-alice", limit=5)
    assert (run.loaded, run.skipped, run.failed) == (0, 0, 1)


def test_hits_and_lookups_are_recorded_for_the_next_prewarm(db):
    hot, cold = make_sha("hot"), make_sha("cold")
    feature_cache_put(sha256=hot, version="v2", values=[1.0, 2.0], document_id=None)
    for _ in range(3):
        feature_cache_get(sha256=hot, version="v2")
    feature_cache_get(sha256=cold, version="v2")  # a miss: a lookup, not a hit
    assert holder.flush_key_activity() == 2
    rows = {row.sha256: row for row in CacheKeyActivity.objects.all()}
    assert (rows[hot].hits, rows[hot].lookups, rows[hot].last_hit_at is not None) == (3, 3, True)
    assert (rows[cold].hits, rows[cold].lookups, rows[cold].last_hit_at) == (0, 1, None)
    feature_cache_get(sha256=hot, version="v2")
    feature_cache_get(sha256=cold, version="v2")
    assert holder.flush_key_activity() == 2
    rows = {row.sha256: row for row in CacheKeyActivity.objects.all()}
    assert (rows[hot].hits, rows[hot].lookups, rows[cold].lookups) == (4, 4, 2)
    assert holder.flush_key_activity() == 0


def test_prewarm_endpoint_and_command(stored_files, ops_client, key_client):
    arrange_tiers(stored_files)
    assert key_client.post("/api/v1/cache/prewarm/", {}, format="json").status_code == 403
    response = ops_client.post("/api/v1/cache/prewarm/", {"limit": 3, "reason": "api"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tiers"] == {"recent_hits": 2, "recently_referenced": 1, "low_dimension_high_frequency": 0}
    assert (body["loaded"], body["skipped"], body["failed"]) == (2, 1, 0)
    bad = ops_client.post("/api/v1/cache/prewarm/", {"limit": 10_001}, format="json")
    assert bad.status_code == 400
    assert [error["field"] for error in bad.json()["errors"]] == ["limit"]

    from io import StringIO

    out = StringIO()
    call_command("cache_prewarm", "--limit", "10", "--reason", "cli", stdout=out)
    assert "loaded 1, skipped 3, failed 0" in out.getvalue()
    assert CachePrewarmRun.objects.count() == 2
    with pytest.raises(CommandError, match="out_of_bounds"):
        call_command("cache_prewarm", "--limit", "-1")


@pytest.mark.django_db(transaction=True)
def test_prewarm_reaches_another_process(cad_samples_dir, django_subprocess_env):
    shas = []
    for name in SAMPLES:
        shas.append(cad_file_ingest(data=(cad_samples_dir / "stl" / name).read_bytes(), name=name).cad_file.sha256)
    arrange_tiers(shas)
    watch = [[shas[0], "v2"], [shas[1], "v2"], [shas[2], "v1"]]
    probe = Probe(django_subprocess_env, 40, watch)
    try:
        assert probe.next_state(timeout=60)["cached"] == []
        started = time.time()
        run = cache_prewarm(actor="ops-alice", limit=10)
        assert run.loaded == 3
        state = probe.next_state(timeout=10)
        while len(state["cached"]) < 3:
            state = probe.next_state(timeout=10)
        assert state["cached"] == sorted(shas)
        assert state["at"] - started < 5.0
    finally:
        stderr = probe.stop()
    assert "Traceback" not in stderr, stderr


def test_old_key_activity_is_pruned_by_the_periodic_task(db):
    from cachectl.tasks import prune_key_activity

    keep = make_hit("recent", "v2", minutes_ago=60)
    make_hit("old", "v2", minutes_ago=8 * 24 * 60)
    assert prune_key_activity.delay().get() == 1
    assert list(CacheKeyActivity.objects.values_list("sha256", flat=True)) == [keep]


def test_prewarm_reports_progress_and_stops_when_asked(stored_files, monkeypatch):
    from cachectl.services import prewarm

    arrange_tiers(stored_files)
    monkeypatch.setattr(prewarm, "PROGRESS_EVERY", 1)
    seen = []
    run = cache_prewarm(actor="ops-alice", limit=10, progress=lambda done, total: seen.append((done, total)),
                        should_stop=lambda: len(seen) >= 2)
    assert seen == [(1, 4), (2, 4)]
    # entries 1 and 3 loaded, entry 2 was never stored, entry 4 not reached
    assert (run.loaded, run.skipped, run.failed) == (2, 2, 0)
    assert holder.cache().peek((stored_files[2], "v1")) is None
