"""Real gunicorn workers (2, initialised by post_fork): an apply made through one reaches both within 5 s."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.live_stack import LiveStack


@pytest.mark.integration
def test_both_gunicorn_workers_apply_a_change_within_5_seconds(django_subprocess_env, make_api_key,
                                                                make_staff_user, make_admin_token, tmp_path):
    _, api_key = make_api_key("cache-live")
    _, admin_token = make_admin_token(make_staff_user("ops-live"))
    env = {**django_subprocess_env, "CADML_THROTTLE_DEFAULT": "100000/min",
           "CADML_THROTTLE_SENSITIVE": "100000/min", "CADML_CACHE_REDIS_URL": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    live = LiveStack(workdir=tmp_path, env=env)
    reader = {"X-API-Key": api_key, "Connection": "close"}

    def observe() -> tuple[int, int]:
        stats = requests.get(live.base_url + "/api/v1/cache/", headers=reader, timeout=10).json()["stats"]
        return stats["pid"], stats["capacity"]

    try:
        live.start_service(workers=2)
        initial: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(initial) < 2 and time.monotonic() < deadline:
            pid, capacity = observe()
            initial[pid] = capacity
        assert len(initial) == 2, "requests did not reach both workers"
        assert len(set(initial.values())) == 1  # both workers start from the same settings

        target = next(iter(initial.values())) + 1234
        applied_at = time.monotonic()
        response = requests.post(live.base_url + "/api/v1/cache/apply/", json={"capacity": target, "reason": "live"},
                                 headers={"X-API-Key": api_key, "X-Admin-Token": admin_token}, timeout=10)
        assert response.status_code == 200, response.text
        converged: dict[int, float] = {}
        while set(converged) != set(initial) and time.monotonic() - applied_at < 5.0:
            pid, capacity = observe()
            if capacity == target:
                converged.setdefault(pid, time.monotonic() - applied_at)
            time.sleep(0.02)
        assert set(converged) == set(initial), f"workers at the new capacity after 5 s: {converged}"
    finally:
        live.stop()
