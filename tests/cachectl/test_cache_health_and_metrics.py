"""The cache health section and the database-backed rollback-window gauges, read at scrape time."""

from __future__ import annotations

import re

import pytest

from cachectl.services import cache_settings_apply, cache_settings_confirm

pytestmark = pytest.mark.django_db


def gauge(body: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", body, re.MULTILINE)
    assert match, f"{name} not exported"
    return float(match.group(1))


def test_rollback_window_gauges_follow_the_database(client, settings):
    body = client.get("/metrics").content.decode()
    assert gauge(body, "feature_cache_rollback_window_age_seconds") == 0
    assert gauge(body, "feature_cache_rollback_window_limit_seconds") == settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS
    cache_settings_apply(actor="ops-alice", reason="gauge", capacity=10)
    body = client.get("/metrics").content.decode()
    assert 0 < gauge(body, "feature_cache_rollback_window_age_seconds") < 60
    cache_settings_confirm(actor="ops-alice")
    body = client.get("/metrics").content.decode()
    assert gauge(body, "feature_cache_rollback_window_age_seconds") == 0


def test_health_has_a_cache_section(anon_client):
    body = anon_client.get("/api/v1/health/").json()
    section = body["sections"]["cache"]
    assert section["status"] == "ok"
    assert section["policy"] in ("w-tinylfu", "lru")
    assert section["rollback_window"] is None
    assert section["shared_tier"] == {"configured": False}


def test_health_is_degraded_by_an_unconfirmed_expired_window(anon_client, short_window):
    import time

    cache_settings_apply(actor="ops-alice", reason="forgotten", capacity=10)
    time.sleep(short_window + 0.2)
    section = anon_client.get("/api/v1/health/").json()["sections"]["cache"]
    assert section["status"] == "degraded"
    assert section["rollback_window"]["expired"] is True
