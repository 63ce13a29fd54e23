import random
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.metrics import metric_value
from tests.vectors.conftest import make_vectors, register
from vectors.errors import RebuildInProgress
from vectors.index.snapshot import read_manifest
from vectors.models import IndexEvent, IndexState, VectorOpsAudit
from vectors.runtime import reset_index_holder
from vectors.selectors import (
    degraded_duration_seconds,
    flap_suppression_active,
    index_status,
    vector_similarity_search,
)
from vectors.services import (
    index_degrade_drill,
    index_mark_degraded,
    index_rebuild,
    index_recover,
    index_recovery_tick,
)
from vectors.services.index_ops import lease_claim, lease_release

pytestmark = pytest.mark.django_db


def _events(version="v4"):
    return list(IndexEvent.objects.filter(feature_version=version).order_by("created_at", "id")
                .values_list("event", flat=True))


@pytest.fixture
def seeded():
    vectors = make_vectors(200, 24, seed=3)
    register("v4", vectors)
    return vectors


def _search(vectors):
    return vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=3)


def test_corrupt_snapshot_degrades_and_automatic_recovery_restores(seeded, settings):
    index_rebuild(feature_version="v4", actor="ops-alice", reason="first snapshot")
    manifest = read_manifest(settings.CADML_INDEX_DIR, "v4")
    assert manifest.count == 200 and IndexState.objects.get().snapshot_generation == manifest.generation
    path = settings.CADML_INDEX_DIR / "v4" / manifest.index_file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    before = metric_value("similarity_degraded_total", event="degraded")

    reset_index_holder()  # a process starting now reads the corrupt snapshot
    out = _search(seeded)
    assert (out["backend"], out["degraded"], out["results"][0]["key"]) == ("memory", True, "k00000")
    state = IndexState.objects.get()
    assert state.degraded and state.degraded_reason == "snapshot_corrupt" and "sha256" in state.last_error
    assert _events() == ["degraded"]
    assert metric_value("similarity_degraded_total", event="degraded") == before + 1
    assert degraded_duration_seconds() >= 0 and state.degraded_since is not None

    results = index_recovery_tick(now=timezone.now() + timedelta(seconds=11))  # first backoff is at most 10 s
    assert [r.result for r in results] == ["success"]
    assert _events() == ["degraded", "restored"]
    out = _search(seeded)
    assert (out["backend"], out["degraded"]) == ("faiss", False)
    assert degraded_duration_seconds() == 0.0


def test_faiss_import_failure_is_a_recorded_degradation(seeded, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    out = _search(seeded)
    assert (out["backend"], out["degraded"]) == ("memory", True)
    assert IndexState.objects.get().degraded_reason == "faiss_unavailable"
    failed_before = metric_value("faiss_recovery_attempts_total", result="error")
    results = index_recovery_tick(now=timezone.now() + timedelta(seconds=11))
    assert [r.result for r in results] == ["error"]
    assert _events() == ["degraded", "recovery_failed"]
    assert metric_value("faiss_recovery_attempts_total", result="error") == failed_before + 1


def test_backoff_grows_with_failures_and_persists(seeded, settings, tmp_path):
    now = timezone.now()
    index_mark_degraded(feature_version="v4", reason="load_failed", error="boom", now=now, rng=random.Random(1))
    first = IndexState.objects.get().next_attempt_at
    assert now <= first <= now + timedelta(seconds=10)
    assert [r.result for r in index_recovery_tick(now=first - timedelta(seconds=0.5))] == ["waiting"]

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings.CADML_INDEX_DIR = blocker / "index"  # a real fault: the snapshot folder cannot be created
    t = first
    for failures in (1, 2, 3):
        assert [r.result for r in index_recovery_tick(now=t, rng=random.Random(failures))] == ["error"]
        state = IndexState.objects.get()  # the state is read back from the database, as after a restart
        assert state.recovery_failures == failures
        assert t <= state.next_attempt_at <= t + timedelta(seconds=10 * 2 ** failures)
        t = state.next_attempt_at
    status = index_status(feature_version="v4")[0]
    assert status["recovery_failures"] == 3 and status["next_attempt_in_seconds"] > 0
    assert [e["event"] for e in status["events"]][:3] == ["recovery_failed"] * 3

    settings.CADML_INDEX_DIR = tmp_path / "index-ok"
    assert [r.result for r in index_recovery_tick(now=t)] == ["success"]
    state = IndexState.objects.get()
    assert (state.degraded, state.recovery_failures, state.next_attempt_at) == (False, 0, None)


def test_three_degradations_in_15_minutes_suppress_automatic_recovery(seeded):
    now = timezone.now()
    suppressed_before = metric_value("faiss_recovery_attempts_total", result="suppressed")
    for minutes in (0, 4, 8):
        t = now + timedelta(minutes=minutes)
        index_mark_degraded(feature_version="v4", reason="search_failed", error="boom", now=t)
        if minutes < 8:
            assert [r.result for r in index_recovery_tick(now=t + timedelta(seconds=11))] == ["success"]
    assert _events()[-2:] == ["degraded", "suppressed"]
    assert flap_suppression_active()
    t = now + timedelta(minutes=8, seconds=30)
    assert [r.result for r in index_recovery_tick(now=t)] == ["suppressed"]
    assert metric_value("faiss_recovery_attempts_total", result="suppressed") == suppressed_before + 1
    state = IndexState.objects.get()
    assert state.suppressed_until == now + timedelta(minutes=8, seconds=300)
    status = index_status(feature_version="v4")[0]
    assert status["suppression_left_seconds"] == pytest.approx(
        (state.suppressed_until - timezone.now()).total_seconds(), abs=5)

    result = index_recover(feature_version="v4", actor="ops-alice", reason="fixed the disk", now=t)
    assert result.result == "success"
    assert _events()[-2:] == ["manual_override", "restored"]
    assert VectorOpsAudit.objects.filter(action="index_recover").get().actor == "ops-alice"


def test_manual_recovery_is_refused_while_another_process_rebuilds(seeded):
    index_mark_degraded(feature_version="v4", reason="build_failed", error="boom")
    assert lease_claim("auto-worker")
    assert not lease_claim("someone-else")
    skipped_before = metric_value("faiss_recovery_attempts_total", result="skipped")
    with pytest.raises(RebuildInProgress) as err:
        index_recover(feature_version="v4", actor="ops-alice")
    assert err.value.status == 409
    results = index_recovery_tick(now=timezone.now() + timedelta(seconds=11))
    assert [r.result for r in results] == ["skipped"]
    assert metric_value("faiss_recovery_attempts_total", result="skipped") == skipped_before + 2
    lease_release("auto-worker")
    assert index_recover(feature_version="v4", actor="ops-alice").result == "success"


def test_expired_lease_can_be_taken_over():
    now = timezone.now()
    assert lease_claim("crashed-worker", now=now)
    assert not lease_claim("next", now=now + timedelta(seconds=10))
    assert lease_claim("next", now=now + timedelta(hours=1))


def test_drill_degrades_until_it_ends(seeded):
    now = timezone.now()
    drills_before = metric_value("similarity_degraded_total", event="drill")
    index_degrade_drill(feature_version="v4", reason="alert check", actor="ops-alice", duration_seconds=60, now=now)
    assert metric_value("similarity_degraded_total", event="drill") == drills_before + 1
    out = _search(seeded)
    assert (out["backend"], out["degraded"]) == ("memory", True)
    assert [r.result for r in index_recovery_tick(now=now + timedelta(seconds=30))] == ["waiting"]
    assert [r.result for r in index_recovery_tick(now=now + timedelta(seconds=61))] == ["success"]
    assert _events() == ["drill", "restored"]
    assert _search(seeded)["backend"] == "faiss"
    audit = VectorOpsAudit.objects.get(action="index_degrade_drill")
    assert (audit.reason, audit.after["degraded"]) == ("alert check", True)


def test_drills_count_as_degradations_for_flap_suppression(seeded):
    now = timezone.now()
    for minutes in (0, 4, 8):
        t = now + timedelta(minutes=minutes)
        index_degrade_drill(feature_version="v4", reason="alert check", actor="ops-alice", duration_seconds=30,
                            now=t)
        if minutes < 8:
            assert index_recover(feature_version="v4", actor="ops-alice", now=t + timedelta(seconds=5)).result \
                == "success"
    assert _events()[-2:] == ["drill", "suppressed"]
    assert flap_suppression_active()
    # the drill is over, but automatic recovery stays paused by flap suppression
    assert [r.result for r in index_recovery_tick(now=now + timedelta(minutes=9))] == ["suppressed"]


def test_gauge_sources_report_database_state(seeded):
    from cadml_site.metrics import DATABASE_GAUGE_COLLECTOR

    index_mark_degraded(feature_version="v4", reason="load_failed", error="boom",
                        now=timezone.now() - timedelta(seconds=42))
    values = {f.name: f.samples[0].value for f in DATABASE_GAUGE_COLLECTOR.collect()
              if f.name in ("faiss_degraded_duration_seconds", "faiss_flap_suppression_active")}
    assert values["faiss_degraded_duration_seconds"] >= 42
    assert values["faiss_flap_suppression_active"] == 0.0
