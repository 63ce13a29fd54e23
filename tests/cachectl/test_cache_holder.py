"""The process-local holder: checks the database at most once a second, survives a database outage."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError
from django.test.utils import CaptureQueriesContext

from cachectl import selectors
from cachectl.health import cache_health_section
from cachectl.holder import CHECK_INTERVAL_SECONDS, holder
from cachectl.services import cache_settings_apply, feature_cache_get
from tests.cachectl.conftest import make_sha

pytestmark = pytest.mark.django_db


def _after_the_interval(monkeypatch):
    """The clock the holder's convergence reads, one check interval from now."""
    later = time.monotonic() + CHECK_INTERVAL_SECONDS
    monkeypatch.setattr(time, "monotonic", lambda: later)


def test_lookups_query_the_settings_at_most_once_per_interval():
    from django.db import connection

    holder.cache()
    with CaptureQueriesContext(connection) as queries:
        for i in range(200):
            feature_cache_get(sha256=make_sha(i), version="v2")
    assert len(queries) == 0  # all inside the first second after the sync


def test_a_change_is_applied_on_the_first_lookup_after_the_interval(monkeypatch):
    assert holder.cache().capacity != 4444
    cache_settings_apply(actor="ops-alice", reason="interval", capacity=4444)  # no on_commit in this test
    assert holder.cache().capacity != 4444  # still inside the interval
    _after_the_interval(monkeypatch)
    feature_cache_get(sha256=make_sha("x"), version="v2")
    assert holder.cache().capacity == 4444


def test_database_outage_keeps_serving_and_is_reported(monkeypatch, settings):
    def unreadable():
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(selectors, "cache_settings_state", unreadable)
    assert feature_cache_get(sha256=make_sha("y"), version="v2") is None  # a miss, not an error
    assert holder.cache().capacity == settings.CADML_CACHE_CAPACITY  # the environment defaults
    assert "could not connect" in holder.last_sync_error
    section = cache_health_section()
    assert section["status"] == "degraded"
    assert any("settings unreadable" in problem for problem in section["problems"])
    monkeypatch.undo()  # the database is back: the next check recovers
    _after_the_interval(monkeypatch)
    holder.cache()
    assert holder.last_sync_error == ""
    assert cache_health_section()["status"] == "ok"
