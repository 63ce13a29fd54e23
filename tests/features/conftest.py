"""Fixtures of the features tests: one warm parse pool shared by the session (like a web process)."""

from __future__ import annotations

import pytest

from features.parse_workers.pool import ParsePool


@pytest.fixture(scope="session")
def parse_pool():
    pool = ParsePool(workers=2, timeout_seconds=30.0).start()
    yield pool
    pool.shutdown()
