"""Per-process memory and garbage-collector metrics (cadml_site.observability.process_stats)."""

import gc
import os

import pytest

from prometheus_client import REGISTRY

from cadml_site.observability import process_stats
from tests.metrics import metric_value


@pytest.fixture
def no_automatic_gc():
    """Only the test's explicit gc.collect() calls run, so the counts are exact."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def vm_rss_bytes(pid="self"):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_resident_memory_matches_proc_status():
    ours, theirs = process_stats.resident_memory_bytes(os.getpid()), vm_rss_bytes()
    assert ours > 10 * 1024 * 1024
    assert abs(ours - theirs) < 8 * 1024 * 1024  # both read the same counter a moment apart


def test_publish_adds_exactly_the_collections_since_the_last_publish(no_automatic_gc):
    process_stats.install()
    process_stats.publish(force=True)
    before = metric_value("cadml_gc_collections_total", generation="2")
    for _ in range(3):
        gc.collect(2)
    assert process_stats.publish(force=True) is True
    assert metric_value("cadml_gc_collections_total", generation="2") - before == 3
    assert process_stats.publish(force=True) is True
    assert metric_value("cadml_gc_collections_total", generation="2") - before == 3  # nothing new, nothing added
    rss = metric_value("cadml_process_resident_memory_bytes")
    assert rss > 10 * 1024 * 1024 and rss == metric_value("cadml_process_resident_memory_max_bytes")


def test_collected_objects_are_counted(no_automatic_gc):
    process_stats.install()
    process_stats.publish(force=True)
    before = metric_value("cadml_gc_objects_total", generation="2", outcome="collected")

    class Cycle:
        pass

    for _ in range(50):
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
    del a, b
    gc.collect(2)
    process_stats.publish(force=True)
    assert metric_value("cadml_gc_objects_total", generation="2", outcome="collected") - before >= 100


def test_publishing_is_throttled_between_requests():
    process_stats.install()
    assert process_stats.publish(force=True) is True
    assert process_stats.publish() is False  # within the interval


def test_the_end_of_a_request_publishes(anon_client, monkeypatch, no_automatic_gc):
    process_stats.install()
    process_stats.publish(force=True)
    before = metric_value("cadml_gc_collections_total", generation="2")
    gc.collect(2)
    monkeypatch.setattr(process_stats, "_last_publish", 0.0)
    response = anon_client.get("/api/v1/health/live/")
    assert response.status_code == 200
    assert metric_value("cadml_gc_collections_total", generation="2") - before == 1


def test_the_worker_initialiser_creates_zero_series_for_alerted_counters():
    from cadml_site.process_state import _initializers

    process_stats.install()
    assert "observability.process_stats" in _initializers
    _initializers["observability.process_stats"]()
    for series, labels in [
        ("model_reload_total", {"code": "hash_mismatch"}),
        ("faiss_recovery_attempts_total", {"result": "error"}),
        ("vector_migrate_total", {"status": "failed"}),
        ("similarity_degraded_total", {"event": "drill"}),
        ("feature_cache_prewarm_total", {"result": "failed"}),
        ("cadml_gc_objects_total", {"generation": "0", "outcome": "uncollectable"}),
    ]:
        assert REGISTRY.get_sample_value(series, labels) is not None, (series, labels)
