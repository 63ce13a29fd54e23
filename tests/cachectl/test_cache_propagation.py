"""A settings change reaches another process within 5 seconds (that process's own lookups pick it up)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cachectl.services import cache_settings_apply, cache_settings_rollback

ROOT = Path(__file__).resolve().parents[2]


class Probe:
    def __init__(self, env: dict, seconds: float, watch=()):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cachectl.cache_process_probe", str(seconds), json.dumps(list(watch))],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def next_state(self, timeout: float) -> dict:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise AssertionError(f"no state from the probe within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"probe exited: {self.process.stderr.read()}")
        return json.loads(line)

    def stop(self) -> str:
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=30)
        return stderr


@pytest.fixture
def probe_factory(django_subprocess_env):
    probes = []

    def make(seconds: float = 30, watch=()):
        probe = Probe(django_subprocess_env, seconds, watch)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        stderr = probe.stop()
        assert "Traceback" not in stderr, stderr


def test_apply_and_rollback_reach_a_second_process_within_5_seconds(probe_factory, settings):
    probe = probe_factory()
    initial = probe.next_state(timeout=60)  # Django start-up can be slow on a shared machine
    assert initial["capacity"] == settings.CADML_CACHE_CAPACITY

    applied_at = time.time()
    cache_settings_apply(actor="ops-alice", reason="propagation", capacity=1234, ttl_seconds=77, policy="lru")
    state = probe.next_state(timeout=10)
    assert (state["capacity"], state["ttl_seconds"], state["policy"]) == (1234, 77, "lru")
    assert state["at"] - applied_at < 5.0

    rolled_back_at = time.time()
    cache_settings_rollback(actor="ops-alice", reason="propagation back")
    state = probe.next_state(timeout=10)
    assert state["capacity"] == initial["capacity"] and state["policy"] == initial["policy"]
    assert state["at"] - rolled_back_at < 5.0
