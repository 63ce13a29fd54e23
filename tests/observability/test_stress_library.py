"""The Django-free pieces of tools.stress: loopback guard, percentiles, /metrics parsing, STL payloads."""

import struct

import numpy as np
import pytest
import trimesh

from tools.stress.client import StressClient, StressConfigurationError, require_loopback
from tools.stress.payloads import binary_stl_box, box_variants
from tools.stress.scenarios import Bounds
from tools.stress.scrape import MetricsSnapshot
from tools.stress.stats import LatencySummary, percentile


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000/", "http://[::1]:8000",
                                 "https://127.0.0.5"])
def test_loopback_urls_are_accepted(url):
    assert require_loopback(url) == url.rstrip("/")


@pytest.mark.parametrize("url, message", [
    ("http://10.0.0.7:8000", "loopback"),
    ("http://192.168.1.1", "loopback"),
    ("ftp://127.0.0.1", r"http\(s\) URL"),
    ("127.0.0.1:8000", r"http\(s\) URL"),
    ("http://127.0.0.1:8000/api/v1/", "base URL"),
    ("http://127.0.0.1:8000/?x=1", "base URL"),
    ("http://no-such-host.invalid", "cannot resolve"),
])
def test_other_urls_are_refused(url, message):
    with pytest.raises(StressConfigurationError, match=message):
        require_loopback(url)


def test_client_requires_an_api_key_and_a_token_for_ops_calls():
    with pytest.raises(StressConfigurationError, match="--api-key"):
        StressClient("http://127.0.0.1:1", api_key="")
    client = StressClient("http://127.0.0.1:1", api_key="k")
    with pytest.raises(StressConfigurationError, match="--admin-token"):
        client.headers(ops=True)


def test_a_refused_connection_is_a_recorded_failure():
    client = StressClient("http://127.0.0.1:1", api_key="k", timeout=2)
    with pytest.raises(Exception, match="no response"):
        client.call("probe", "GET", "/api/v1/health/live/")
    (failure,) = client.log.failures()
    assert failure.operation == "probe" and failure.status is None


def test_percentiles_match_numpy():
    rng = np.random.default_rng(3)
    values = list(rng.exponential(0.02, size=501))
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    summary = LatencySummary.of(values)
    assert summary.count == 501 and summary.p50 <= summary.p95 <= summary.p99 <= summary.max
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_bounds_are_validated():
    with pytest.raises(ValueError, match="--duration"):
        Bounds(0, 10)
    with pytest.raises(ValueError, match="--iterations"):
        Bounds(10, 0)


EXPOSITION = """\
# HELP similarity_degraded_total Degraded-mode events
# TYPE similarity_degraded_total counter
similarity_degraded_total{event="drill"} 3.0
similarity_degraded_total{event="restored"} 2.0
# HELP cadml_gc_objects_total Objects found by the garbage collector
# TYPE cadml_gc_objects_total counter
cadml_gc_objects_total{generation="0",outcome="collected"} 10.0
cadml_gc_objects_total{generation="2",outcome="collected"} 5.0
# HELP faiss_degraded_duration_seconds Seconds degraded
# TYPE faiss_degraded_duration_seconds gauge
faiss_degraded_duration_seconds 12.5
"""


def test_metrics_snapshot_looks_up_and_sums_samples():
    snapshot = MetricsSnapshot(EXPOSITION)
    assert snapshot.value("similarity_degraded_total", {"event": "drill"}) == 3.0
    assert snapshot.value("similarity_degraded_total") == 5.0
    assert snapshot.value("cadml_gc_objects_total", {"outcome": "collected"}) == 15.0
    assert snapshot.value("faiss_degraded_duration_seconds") == 12.5
    assert snapshot.value("similarity_degraded_total", {"event": "suppressed"}) is None
    with pytest.raises(LookupError):
        snapshot.require("no_such_metric")


def test_binary_stl_box_is_a_closed_box_of_the_given_size():
    data = binary_stl_box(10.0, 20.0, 5.0)
    assert len(data) == 84 + 12 * 50 and struct.unpack_from("<I", data, 80)[0] == 12
    mesh = trimesh.load(trimesh.util.wrap_as_stream(data), file_type="stl")
    assert np.allclose(mesh.bounds, [[0, 0, 0], [10, 20, 5]])
    assert mesh.is_watertight and mesh.volume == pytest.approx(1000.0)


def test_box_variants_have_distinct_contents():
    variants = box_variants(8)
    assert len({data for _, data in variants}) == 8
    assert len({name for name, _ in variants}) == 8


def test_a_load_sequence_goes_back_only_against_polls_answered_before_the_next_was_sent():
    from tools.stress.scenarios import sequence_seen_before

    polls = [(0.0, 1.0, 11), (0.5, 0.9, 12)]  # the poll sent second read 12 and was answered first
    assert sequence_seen_before(polls, 0.95) == 12  # only the second had been answered
    assert sequence_seen_before(polls, 2.0) == 12  # a poll sent after both must see at least 12
    assert sequence_seen_before(polls, 0.2) is None  # overlapping polls are not compared
    assert sequence_seen_before([], 5.0) is None
