"""Fixtures of the analysis tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def feature_cache_empty():
    """The feature cache and the file facts are process-global and outlive each test's rows: content an earlier test
    analyzed would be a cache hit here (and a hit whose row is gone costs the known-content path a statement: it is
    parsed as new). Emptied before the test and after it."""
    from cachectl.holder import holder
    from features.file_facts import file_facts

    holder.reset()
    file_facts.clear()
    yield
    holder.reset()
    file_facts.clear()
