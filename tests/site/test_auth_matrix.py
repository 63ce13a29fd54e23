"""The authentication matrix: exact statuses and problem bodies for every credential situation."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

WHOAMI = "/api/v1/auth/whoami/"
SENSITIVE = "/api/v1/auth/api-keys/"

pytestmark = pytest.mark.django_db


def _client(key: str | None = None, token: str | None = None) -> APIClient:
    client = APIClient()
    headers = {}
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    if token is not None:
        headers["HTTP_X_ADMIN_TOKEN"] = token
    client.credentials(**headers)
    return client


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    for field in ("type", "title", "detail", "stage", "message", "context", "timestamp", "request_id"):
        assert field in body, field
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_no_key_is_401_with_www_authenticate(anon_client):
    response = anon_client.get(WHOAMI)
    _assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("ApiKey")


def test_wrong_key_is_401(wrong_key_client):
    response = wrong_key_client.get(WHOAMI)
    _assert_problem(response, 401, "api_key_invalid")
    assert "WWW-Authenticate" in response


def test_malformed_key_is_401(db):
    _assert_problem(_client("no-dot-in-here").get(WHOAMI), 401, "api_key_invalid")


def test_right_prefix_wrong_secret_is_401(make_api_key):
    key, secret = make_api_key("acme")
    body = secret.split(".", 1)[1]
    forged = key.prefix + "." + ("y" if body[0] == "x" else "x") + body[1:]  # always differs from the secret
    _assert_problem(_client(forged).get(WHOAMI), 401, "api_key_invalid")


def test_revoked_key_is_401(make_api_key):
    key, secret = make_api_key("acme")
    key.revoked_at = timezone.now()
    key.save()
    _assert_problem(_client(secret).get(WHOAMI), 401, "api_key_revoked")


def test_valid_key_reads(key_client):
    response = key_client.get(WHOAMI)
    assert response.status_code == 200
    assert response.json() == {
        "api_key_name": "acme-cad", "api_key_prefix": response.json()["api_key_prefix"],
        "api_key_scope": "read_write", "staff_user": None, "sensitive_operations_allowed": False,
    }


def test_key_alone_on_sensitive_operation_is_403(key_client):
    response = key_client.post(SENSITIVE, {"name": "new-client"}, format="json")
    _assert_problem(response, 403, "admin_token_required")


def test_both_headers_allow_sensitive_operation_and_audit_names_actor(ops_client):
    from cadml_site.api.models import ApiKey, CredentialAuditRecord

    response = ops_client.post(SENSITIVE, {"name": "new-client", "scope": "read", "reason": "onboarding"},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert ApiKey.objects.filter(name="new-client", prefix=body["prefix"], scope="read").exists()
    assert body["scope"] == "read"
    audit = CredentialAuditRecord.objects.get(action="api_key_issue")
    assert audit.actor == "ops-alice"
    assert audit.reason == "onboarding"
    assert audit.request_id == response["X-Request-ID"]
    assert "secret" not in str(audit.after) and audit.after["scope"] == "read"
    # the issued key works
    assert _client(body["secret"]).get(WHOAMI).status_code == 200


def test_wrong_token_is_401(api_key_secret, ops_user):
    response = _client(api_key_secret, "deadbeef.not-a-token").post(SENSITIVE, {"name": "x"}, format="json")
    _assert_problem(response, 401, "admin_token_invalid")
    assert "WWW-Authenticate" in response


def test_token_without_key_is_401(admin_token_secret):
    response = _client(None, admin_token_secret).post(SENSITIVE, {"name": "x"}, format="json")
    _assert_problem(response, 401, "api_key_missing")


def test_token_of_inactive_user_is_401(api_key_secret, admin_token_secret, ops_user):
    ops_user.is_active = False
    ops_user.save()
    response = _client(api_key_secret, admin_token_secret).post(SENSITIVE, {"name": "x"}, format="json")
    _assert_problem(response, 401, "admin_token_inactive_user")


def test_token_of_user_no_longer_staff_is_403(api_key_secret, admin_token_secret, ops_user):
    ops_user.is_staff = False
    ops_user.save()
    response = _client(api_key_secret, admin_token_secret).post(SENSITIVE, {"name": "x"}, format="json")
    _assert_problem(response, 403, "not_staff")


def test_revoked_token_is_401(api_key_secret, admin_token_secret):
    from cadml_site.api.models import AdminToken

    AdminToken.objects.update(revoked_at=timezone.now())
    response = _client(api_key_secret, admin_token_secret).post(SENSITIVE, {"name": "x"}, format="json")
    _assert_problem(response, 401, "admin_token_revoked")


def test_revoke_endpoint_cuts_a_key_off(ops_client, make_api_key):
    from cadml_site.api.models import CredentialAuditRecord

    victim, victim_secret = make_api_key("leaked")
    assert _client(victim_secret).get(WHOAMI).status_code == 200
    response = ops_client.post(f"/api/v1/auth/api-keys/{victim.prefix}/revoke/", {"reason": "leaked in a log"},
                               format="json")
    assert response.status_code == 200
    _assert_problem(_client(victim_secret).get(WHOAMI), 401, "api_key_revoked")
    audit = CredentialAuditRecord.objects.get(action="api_key_revoke")
    assert (audit.actor, audit.before["revoked_at"], audit.after["prefix"]) == ("ops-alice", None, victim.prefix)


def test_no_credential_exists_until_someone_creates_one(db):
    from cadml_site.api.models import AdminToken, ApiKey

    assert ApiKey.objects.count() == 0 and AdminToken.objects.count() == 0


def test_secrets_are_stored_hashed(make_api_key):
    from cadml_site.api.models import ApiKey

    key, secret = make_api_key("acme")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.secret_hash, stored.prefix)
    assert len(stored.secret_hash) == 64
