"""The process-local parse pool (``features.parse_pool``): built lazily, started by the process initialiser, its
workers stopped by the finaliser and the test reset (no database needed)."""

from __future__ import annotations

from cadml_site.process_state import run_process_finalizers, run_process_initializers
from features.parse_pool import get_parse_pool, parse_pool_status, parse_pools

from .cad_builders import make_dxf_lines


def _processes(pool):
    return [worker.process for worker in pool._all]


def test_the_pool_is_built_on_first_use_and_the_reset_stops_its_workers():
    parse_pools.reset()
    assert parse_pool_status() is None  # a status page starts nothing
    pool = get_parse_pool()
    assert get_parse_pool() is pool and parse_pool_status()["started"]
    assert pool.parse("dxf", make_dxf_lines(2)).entity_count == 2
    processes = _processes(pool)
    parse_pools.reset()
    assert all(not process.is_alive() for process in processes) and pool.status()["closed"]
    assert parse_pool_status() is None
    assert get_parse_pool() is not pool


def test_the_initialiser_restarts_the_pool_and_the_finaliser_stops_it():
    before = get_parse_pool()
    assert run_process_initializers()["features.parse_pool"] == "ok"
    pool = parse_pools.current()
    assert pool is not None and pool is not before and before.status()["closed"]
    assert pool.parse("dxf", make_dxf_lines(3)).entity_count == 3
    processes = _processes(pool)
    run_process_finalizers()
    assert all(not process.is_alive() for process in processes) and parse_pool_status() is None
