import pytest

pytestmark = pytest.mark.django_db


def test_incoming_request_id_is_returned(anon_client):
    response = anon_client.get("/api/v1/health/live/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_request_id_is_created_when_missing(anon_client):
    first = anon_client.get("/api/v1/health/live/")["X-Request-ID"]
    second = anon_client.get("/api/v1/health/live/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_unsafe_request_id_is_replaced(anon_client):
    response = anon_client.get("/api/v1/health/live/", HTTP_X_REQUEST_ID="bad id\nInjected: 1")
    assert response["X-Request-ID"] != "bad id\nInjected: 1"
    assert len(response["X-Request-ID"]) == 32
