"""The per-process credential cache: no database round trip within a second, revocation within a second."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cadml_site.api.authentication import CREDENTIAL_CACHE_SECONDS, credential_cache

WHOAMI = "/api/v1/auth/whoami/"
pytestmark = pytest.mark.django_db


def _client(key: str | None, token: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_X_API_KEY=key, **({"HTTP_X_ADMIN_TOKEN": token} if token else {}))
    return client


def test_the_cache_is_one_second_at_most():
    assert 0 < CREDENTIAL_CACHE_SECONDS <= 1.0
    assert credential_cache.ttl_seconds == CREDENTIAL_CACHE_SECONDS


@pytest.fixture
def slow_clock(monkeypatch):
    """A longer TTL, so that a loaded machine cannot make the second request fall outside it."""
    monkeypatch.setattr(credential_cache, "ttl_seconds", 30.0)


def test_a_repeated_request_reads_no_credential_row(key_client, django_assert_num_queries, slow_clock):
    assert key_client.get(WHOAMI).status_code == 200  # loads the row (and records last use)
    with django_assert_num_queries(0):
        assert key_client.get(WHOAMI).status_code == 200


def test_a_repeated_ops_request_reads_no_credential_row(ops_client, django_assert_num_queries, slow_clock):
    assert ops_client.get(WHOAMI).status_code == 200
    with django_assert_num_queries(0):
        assert ops_client.get(WHOAMI).status_code == 200


def test_the_wrong_secret_of_a_cached_prefix_is_still_refused(make_api_key):
    key, secret = make_api_key("acme")
    assert _client(secret).get(WHOAMI).status_code == 200
    rest = secret.split(".", 1)[1]
    forged = key.prefix + "." + ("y" if rest[0] == "x" else "x") + rest[1:]  # one character changed, always
    assert forged != secret
    response = _client(forged).get(WHOAMI)
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"


def test_revocation_by_another_process_is_refused_one_second_later(make_api_key):
    from cadml_site.api.models import ApiKey

    key, secret = make_api_key("acme")
    assert _client(secret).get(WHOAMI).status_code == 200
    # another process revokes it: a plain UPDATE this process knows nothing about
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    time.sleep(CREDENTIAL_CACHE_SECONDS + 0.05)
    response = _client(secret).get(WHOAMI)
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"


def test_token_revocation_and_user_deactivation_by_another_process_take_effect_within_a_second(
        api_key_secret, admin_token_secret, ops_user, django_user_model):
    from cadml_site.api.models import AdminToken

    assert _client(api_key_secret, admin_token_secret).get(WHOAMI).status_code == 200
    django_user_model.objects.filter(pk=ops_user.pk).update(is_active=False)
    time.sleep(CREDENTIAL_CACHE_SECONDS + 0.05)
    response = _client(api_key_secret, admin_token_secret).get(WHOAMI)
    assert response.status_code == 401 and response.json()["code"] == "admin_token_inactive_user"
    django_user_model.objects.filter(pk=ops_user.pk).update(is_active=True)
    AdminToken.objects.update(revoked_at=timezone.now())
    time.sleep(CREDENTIAL_CACHE_SECONDS + 0.05)
    response = _client(api_key_secret, admin_token_secret).get(WHOAMI)
    assert response.status_code == 401 and response.json()["code"] == "admin_token_revoked"


def test_revocation_through_the_service_is_refused_at_once_in_this_process(make_api_key):
    from cadml_site.api.services import api_key_revoke

    key, secret = make_api_key("acme")
    assert _client(secret).get(WHOAMI).status_code == 200
    api_key_revoke(prefix=key.prefix, actor="ops-alice", reason="leaked")
    response = _client(secret).get(WHOAMI)
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"


def test_a_new_key_works_at_once_after_its_prefix_missed():
    """Misses are not cached: a key created right after an unknown prefix was tried is accepted."""
    from cadml_site.api.services import api_key_create

    key, secret = api_key_create(name="fresh")
    wrong_prefix_first = "0" * 8 + ".nothing"
    assert _client(wrong_prefix_first).get(WHOAMI).status_code == 401
    assert _client(secret).get(WHOAMI).status_code == 200


def test_last_use_is_written_at_most_once_a_minute(key_client, django_assert_num_queries):
    from cadml_site.api.models import ApiKey

    assert key_client.get(WHOAMI).status_code == 200
    first = ApiKey.objects.get(name="acme-cad").last_used_at
    assert first is not None
    credential_cache.forget()  # even a reloaded row is not touched again within the minute
    with django_assert_num_queries(1):  # the row, no UPDATE
        assert key_client.get(WHOAMI).status_code == 200
    assert ApiKey.objects.get(name="acme-cad").last_used_at == first
