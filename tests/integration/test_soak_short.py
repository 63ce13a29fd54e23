"""The 2-minute version of the soak (bench/soak.py runs the 30-minute one): mixed traffic (similarity, analyze,
model reload, cache apply + rollback, degradation drills) on gunicorn with 2 workers on a private Postgres cluster.
Zero errors, no leaked file descriptors or processes; the figures (p99, RSS slope per worker) are printed and kept
in docs/reliability.md, not asserted (timings are not test assertions here: CI shares its cores)."""

from __future__ import annotations

import pytest

from tools.stress.client import StressClient
from tools.stress.soak import seed_service, soak
from tests.integration.fault_stack import start_fault_stack

pytestmark = pytest.mark.integration


def test_two_minute_soak_has_no_errors_and_leaks_nothing(tmp_path):
    stack = start_fault_stack(tmp_path, celery=False)
    try:
        client = StressClient(stack.base_url, api_key=stack.api_key, admin_token=stack.admin_token)
        versions = seed_service(client)
        master = next(p for p in stack.live.processes if p.name == "gunicorn").process.pid
        report = soak(client, master_pid=master, duration=120, warmup=30, rate=6, model_versions=versions,
                      drill_every=40)
    finally:
        stack.stop()
    print("\n" + report.render())
    assert not report.errors, report.render()
    assert report.drills >= 2
    assert report.requests >= 600
    assert set(report.latency) >= {"similarity", "analyze", "reload", "cache_apply", "cache_rollback"}
    assert len(report.rss_slope_kib_per_min) == 2  # both gunicorn workers sampled
    for pid, before in report.fds_start.items():
        assert report.fds_end.get(pid) is not None, f"worker {pid} was replaced during the soak"
        assert report.fds_end[pid] <= before + 8, (pid, before, report.fds_end[pid])
    assert report.processes_end == report.processes_start
