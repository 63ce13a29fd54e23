"""Fixtures of the cache tests: a fresh process-local holder per test, helpers for keys and entries."""

from __future__ import annotations

import hashlib

import pytest


@pytest.fixture(autouse=True)
def fresh_cache_holder(settings):
    """Each test starts like a new process: no cache, no generation seen, and no shared Redis tier unless the
    test asks for one (entries left in Redis by an earlier run would turn expected misses into hits)."""
    from cachectl.holder import holder

    settings.CADML_CACHE_REDIS_URL = None
    holder.reset()
    yield holder
    holder.wait_for_replay(timeout=10)
    holder.reset()


def make_sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@pytest.fixture
def short_window(settings):
    settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS = 1
    return 1
