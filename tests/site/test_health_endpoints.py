from __future__ import annotations

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_health_needs_no_auth_and_reports_sections(anon_client):
    response = anon_client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("ok", "degraded", "down")
    assert body["sections"]["database"]["status"] == "ok"
    assert body["sections"]["build"]["version"]
    assert "broker" in body["sections"]


def test_a_failing_section_is_reported_down_not_raised(anon_client):
    from cadml_site.health import _sections, register_health_section

    def broken():
        raise RuntimeError("disk on fire")

    register_health_section("broken-for-test", broken)
    try:
        body = anon_client.get("/api/v1/health/").json()
    finally:
        _sections.pop("broken-for-test")
    assert body["status"] == "down"
    assert body["sections"]["broken-for-test"] == {"status": "down", "error": "section_failed"}


def test_live(anon_client):
    assert anon_client.get("/api/v1/health/live/").json() == {"status": "ok"}


def test_ready_ok(anon_client):
    assert anon_client.get("/api/v1/health/ready/").status_code == 200


def test_ready_fails_when_database_unreachable(anon_client, monkeypatch):
    from django.db import connection

    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "ensure_connection", unreachable)
    response = anon_client.get("/api/v1/health/ready/")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert int(response["Retry-After"]) >= 1


def test_landing_page_links(client):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    for link in ("/api/docs/", "/admin/", "/api/v1/health/", "/metrics"):
        assert f'href="{link}' in html


def test_admin_is_titled(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert "CAD ML Platform" in response.content.decode()
