"""Errors are RFC 9457 problem bodies with our fields; unknown exceptions reveal nothing."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework.views import APIView

from cadml_site.errors import Conflict

pytestmark = pytest.mark.django_db


class _BoomApi(APIView):
    def get(self, request):
        raise ZeroDivisionError("secret internals: password=hunter2")


class _ConflictApi(APIView):
    def get(self, request):
        raise Conflict("Already there.", code="name_taken", stage="testing", context={"deadline": "soon"})


urlpatterns = [
    path("api/v1/boom/", _BoomApi.as_view()),
    path("api/v1/conflict/", _ConflictApi.as_view()),
]


def test_validation_errors_list_fields(ops_client):
    response = ops_client.post("/api/v1/auth/api-keys/", {"reason": 5}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["stage"] == "validation"
    assert body["context"]["fields"] == ["name", "reason", "scope"]  # a JSON number is not a string (issue 16)
    assert body["errors"] == [{"field": "name", "code": "required", "message": "This field is required."},
                              {"field": "scope", "code": "required", "message": "This field is required."},
                              {"field": "reason", "code": "invalid", "message": "Must be a JSON string."}]
    assert body["timestamp"].endswith("Z")


def test_domain_error_renders_its_fields(key_client, settings):
    settings.ROOT_URLCONF = __name__
    response = key_client.get("/api/v1/conflict/")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["stage"], body["message"], body["context"]) == (
        "name_taken", "testing", "Already there.", {"deadline": "soon"})
    assert body["type"].endswith("/name_taken")


def test_unknown_exception_is_500_without_internals_and_logged(key_client, settings, caplog):
    settings.ROOT_URLCONF = __name__
    response = key_client.get("/api/v1/boom/", HTTP_X_REQUEST_ID="trace-500")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "trace-500"
    assert "hunter2" not in response.content.decode() and "ZeroDivision" not in response.content.decode()
    assert any("trace-500" in record.getMessage() and record.exc_info for record in caplog.records)


def test_unknown_api_path_is_problem_404(key_client):
    response = key_client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_method_not_allowed_is_problem(key_client):
    response = key_client.delete("/api/v1/auth/whoami/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_malformed_json_is_400(ops_client):
    response = ops_client.generic("POST", "/api/v1/auth/api-keys/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
