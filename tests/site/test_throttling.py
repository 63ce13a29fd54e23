import pytest

from cadml_site.api.throttling import ApiKeyScopedThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(ApiKeyScopedThrottle, "THROTTLE_RATES",
                        {"default": "3/min", "sensitive": "1/min", "upload": "3/min"})
    yield
    cache.clear()


def test_fourth_request_in_a_minute_is_429_with_retry_after(key_client, tight_rates):
    for _ in range(3):
        assert key_client.get("/api/v1/auth/whoami/").status_code == 200
    response = key_client.get("/api/v1/auth/whoami/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_budgets_are_per_key(key_client, make_api_key, tight_rates):
    from rest_framework.test import APIClient

    for _ in range(3):
        key_client.get("/api/v1/auth/whoami/")
    assert key_client.get("/api/v1/auth/whoami/").status_code == 429
    other = APIClient()
    other.credentials(HTTP_X_API_KEY=make_api_key("other")[1])
    assert other.get("/api/v1/auth/whoami/").status_code == 200


def test_sensitive_scope_has_its_own_rate(ops_client, tight_rates):
    assert ops_client.post("/api/v1/auth/api-keys/", {"name": "a", "scope": "read"},
                           format="json").status_code == 201
    assert ops_client.post("/api/v1/auth/api-keys/", {"name": "b", "scope": "read"},
                           format="json").status_code == 429
    assert ops_client.get("/api/v1/auth/whoami/").status_code == 200


def test_health_is_never_throttled(anon_client, tight_rates):
    for _ in range(6):
        assert anon_client.get("/api/v1/health/live/").status_code == 200
