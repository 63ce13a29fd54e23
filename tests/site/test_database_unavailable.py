"""A database that cannot be reached is a dependency fault: 503 `database_unavailable` with Retry-After, never 500.

The same answer comes from the API's problem handler (DRF views), the site middleware (admin, landing page and other
plain Django views) and handler500 (errors raised outside any view). The live proof, with a real Postgres stopped
under traffic, is tests/integration/test_fault_database_outage.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from prometheus_client import REGISTRY

from cadml_site.api.exceptions import server_error_view

pytestmark = pytest.mark.django_db


def _counter(surface: str) -> float:
    return REGISTRY.get_sample_value("cadml_database_unavailable_responses_total", {"surface": surface}) or 0.0


def _assert_database_unavailable(response) -> dict:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) == 5
    body = json.loads(response.content)
    assert body["code"] == "database_unavailable"
    for field in ("type", "title", "status", "detail", "code", "stage", "message", "context", "timestamp"):
        assert field in body
    assert body["status"] == 503
    assert body["context"] == {"retry_after_seconds": 5}
    return body


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_api_request_whose_authentication_cannot_reach_the_database(key_client, monkeypatch, error):
    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr("cadml_site.api.authentication._verify", unreachable)
    before = _counter("api")
    body = _assert_database_unavailable(key_client.get("/api/v1/vectors/"))
    assert body["stage"] == "database"
    assert "connection" not in body["message"]  # the driver's text stays in the log
    assert _counter("api") == before + 1


def test_api_request_whose_service_cannot_reach_the_database(key_client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("vectors.selectors.vector_similarity_search", unreachable)
    response = key_client.post("/api/v1/vectors/similarity/", {"vector": [0.0] * 24, "k": 3}, format="json")
    _assert_database_unavailable(response)


def test_plain_django_view_gets_the_same_answer_from_the_middleware(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("cadml_site.api.views.render", unreachable)
    before = _counter("site")
    _assert_database_unavailable(client.get("/"))
    assert _counter("site") == before + 1


def test_handler500_answers_503_for_a_database_error_raised_outside_a_view():
    request = RequestFactory().get("/admin/")
    try:
        raise OperationalError("terminating connection due to administrator command")
    except OperationalError:
        response = server_error_view(request)
    _assert_database_unavailable(response)


def test_other_errors_stay_500(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("cadml_site.api.views.render", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500


def test_postgres_connections_carry_a_connect_timeout():
    env = {**os.environ, "DJANGO_SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u@127.0.0.1:1/db",
           "CADML_DATABASE_CONNECT_TIMEOUT_SECONDS": "3"}
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS']['connect_timeout'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
