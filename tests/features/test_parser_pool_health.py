"""The `parser_pool` health section and the process-local pool holder."""

from __future__ import annotations

import os
import signal

from features.health import parser_pool_health
from features.parse_pool import get_parse_pool

from .cad_builders import make_dxf_lines
from .parse_service_helpers import _wait_gone


def test_a_worker_killed_from_outside_is_reported_then_replaced(settings):
    pool = get_parse_pool()
    assert get_parse_pool() is pool  # one pool per process
    pool.parse("dxf", make_dxf_lines(2))
    assert parser_pool_health()["status"] == "ok"
    victim = pool.status()["pids"][0]
    os.kill(victim, signal.SIGKILL)
    assert _wait_gone(victim)
    pool._all[0].process.join(5)
    health = parser_pool_health()
    assert health["status"] == "degraded" and health["alive"] == pool.size - 1
    # the service keeps answering: the next request replaces the dead idle worker and is served
    assert pool.parse("dxf", make_dxf_lines(3)).entity_count == 3
    assert victim not in pool.status()["pids"]
    assert parser_pool_health()["status"] == "ok"
    assert parser_pool_health()["replacements"] >= 1
