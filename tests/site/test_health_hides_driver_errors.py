"""Health answers carry codes, never the database driver's text (host, port, role) (issue 18, finding 8)."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db

DRIVER_TEXT = ('connection to server at "db-internal.example" (10.20.30.40), port 6543 failed: FATAL:  password '
               'authentication failed for user "cadml_secret_role"')
LEAKS = ("db-internal", "10.20.30.40", "6543", "cadml_secret_role", "password authentication", "FATAL")


@pytest.fixture
def database_down(monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError(DRIVER_TEXT)

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    monkeypatch.setattr(connection, "cursor", refuse)


def test_health_reports_the_database_down_with_a_code_and_logs_the_detail(anon_client, database_down, caplog):
    caplog.set_level(logging.WARNING)
    response = anon_client.get("/api/v1/health/")
    assert response.status_code == 200
    text = response.content.decode()
    for leak in LEAKS:
        assert leak not in text, leak
    body = response.json()
    assert body["status"] == "down"
    assert body["sections"]["database"]["status"] == "down"
    assert body["sections"]["database"]["error"] == "database_unreachable"
    assert "cadml_secret_role" in caplog.text  # the operator still has the detail


def test_readiness_answers_503_with_a_code_and_retry_after(anon_client, database_down, caplog):
    caplog.set_level(logging.WARNING)
    response = anon_client.get("/api/v1/health/ready/")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["code"] == "database_unavailable"
    for leak in LEAKS:
        assert leak not in response.content.decode(), leak
    assert "cadml_secret_role" in caplog.text


def test_a_section_that_raises_is_down_with_a_code_not_its_exception_text(anon_client, caplog):
    from cadml_site.health import _sections, register_health_section

    def broken():
        raise RuntimeError(DRIVER_TEXT)

    register_health_section("broken-for-test", broken)
    try:
        body = anon_client.get("/api/v1/health/").json()
    finally:
        _sections.pop("broken-for-test")
    assert body["sections"]["broken-for-test"] == {"status": "down", "error": "section_failed"}
    assert "cadml_secret_role" in caplog.text
