"""Issue 18, findings 1, 2 and 4 in the credentials admin: revoke needs its own permission, revocation is one-way,
every creation, revocation and change is audited, and a new secret never travels in a cookie."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import RequestFactory

from cadml_site.api.models import AdminToken, ApiKey, CredentialAuditRecord, hash_secret
from tests.conftest import ALL_VIEW_PERMISSIONS, admin_action_names

pytestmark = pytest.mark.django_db

KEYS = "/admin/cadml_api/apikey/"
TOKENS = "/admin/cadml_api/admintoken/"


@pytest.fixture
def token(make_staff_user, make_admin_token):
    return make_admin_token(make_staff_user("tok-tom"))[0]


@pytest.fixture
def key(make_api_key):
    return make_api_key("victim-client")[0]


@pytest.mark.parametrize("url,credential", [(KEYS, "key"), (TOKENS, "token")])
def test_view_only_staff_gets_no_revoke_action_and_cannot_post_it(staff_browser, request, url, credential):
    obj = request.getfixturevalue(credential)
    viewer = staff_browser("view-vic", permissions=[ALL_VIEW_PERMISSIONS])
    page = viewer.get(url)
    assert page.status_code == 200 and obj.prefix in page.content.decode()
    assert admin_action_names(page) == set()
    response = viewer.post(url, {"action": "revoke", "_selected_action": [obj.pk], "post": "yes",
                                 "reason": "I should not be able to"})
    assert response.status_code in (200, 302)
    obj.refresh_from_db()
    assert obj.revoked_at is None
    assert not CredentialAuditRecord.objects.exists() and not LogEntry.objects.exists()


@pytest.mark.parametrize("url,credential,audit_action", [(KEYS, "key", "api_key_revoke"),
                                                         (TOKENS, "token", "admin_token_revoke")])
def test_security_admin_revokes_with_a_reason_audited(staff_browser, request, url, credential, audit_action):
    obj = request.getfixturevalue(credential)
    sec = staff_browser("sec-sam", roles=("security admin",))
    assert admin_action_names(sec.get(url)) == {"revoke"}
    confirm = sec.post(url, {"action": "revoke", "_selected_action": [obj.pk]})
    assert confirm.status_code == 200 and b'name="reason"' in confirm.content
    obj.refresh_from_db()
    assert obj.revoked_at is None  # nothing yet
    done = sec.post(url, {"action": "revoke", "_selected_action": [obj.pk], "post": "yes", "reason": "leaked"})
    assert done.status_code == 302
    obj.refresh_from_db()
    assert obj.revoked_at is not None
    audit = CredentialAuditRecord.objects.get()
    assert (audit.action, audit.actor, audit.reason) == (audit_action, "sec-sam", "leaked")
    assert audit.before["revoked_at"] is None and audit.after["revoked_at"] is not None
    assert LogEntry.objects.get().change_message == "revoke: leaked"


def test_a_revoked_key_cannot_be_revived_from_its_change_form(admin_client, admin_user, make_api_key):
    key, secret = make_api_key("revoked-client")
    admin_client.post(KEYS, {"action": "revoke", "_selected_action": [key.pk], "post": "yes", "reason": "gone"})
    key.refresh_from_db()
    revoked_at = key.revoked_at
    assert revoked_at is not None
    form = admin_client.get(f"{KEYS}{key.pk}/change/").content.decode()
    assert 'name="revoked_at' not in form and 'name="name"' in form
    response = admin_client.post(f"{KEYS}{key.pk}/change/", {"name": "renamed-client", "revoked_at_0": "",
                                                             "revoked_at_1": "", "prefix": "ffffffff"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.revoked_at, key.prefix) == ("renamed-client", revoked_at, secret.split(".")[0])
    change = CredentialAuditRecord.objects.get(action="api_key_change")
    assert change.actor == admin_user.username
    assert (change.before["name"], change.after["name"]) == ("revoked-client", "renamed-client")
    assert change.after["revoked_at"] == change.before["revoked_at"] is not None
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get("/api/v1/auth/whoami/").status_code == 401


def test_an_admin_tokens_user_and_revocation_are_read_only(admin_client, make_staff_user, token):
    other = make_staff_user("other-oscar")
    admin_client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk], "post": "yes", "reason": "x"})
    token.refresh_from_db()
    revoked_at = token.revoked_at
    form = admin_client.get(f"{TOKENS}{token.pk}/change/").content.decode()
    assert 'name="user"' not in form and 'name="revoked_at' not in form
    admin_client.post(f"{TOKENS}{token.pk}/change/", {"user": other.pk, "name": "laptop", "revoked_at_0": "",
                                                      "revoked_at_1": ""})
    token.refresh_from_db()
    assert (token.user.username, token.name, token.revoked_at) == ("tok-tom", "laptop", revoked_at)
    change = CredentialAuditRecord.objects.get(action="admin_token_change")
    assert change.before["user"] == change.after["user"] == "tok-tom" and change.after["name"] == "laptop"


def _cookie_texts(response) -> list[str]:
    """Every cookie value a response sets, with the messages cookie decoded (it is signed, not encrypted)."""
    texts = []
    for name, morsel in response.cookies.items():
        texts.append(morsel.value)
        if name == "messages" and morsel.value:
            decoded = CookieStorage(RequestFactory().get("/"))._decode(morsel.value) or []
            texts.extend(str(message) for message in decoded)
    return texts


@pytest.mark.parametrize("url,model,data,audit_action", [
    (KEYS, ApiKey, {"name": "new-client", "scope": "read"}, "api_key_issue"),
    (TOKENS, AdminToken, {"name": "ci"}, "admin_token_issue"),
])
def test_a_new_secret_is_shown_once_in_the_page_never_in_a_cookie(admin_client, admin_user, make_staff_user, url,
                                                                   model, data, audit_action):
    holder = make_staff_user("holder-hal")
    if model is AdminToken:
        data = {**data, "user": holder.pk}
    sec = admin_client
    form = sec.get(url + "add/")
    created = sec.post(url + "add/", data)
    responses = [created]
    if created.status_code == 302:  # follow by hand: every response's cookies are checked
        responses.append(sec.get(created["Location"]))
    credential = model.objects.get()
    responses += [sec.get(url), sec.get(f"{url}{credential.pk}/change/"), sec.get("/admin/")]
    secret_like = re.compile(re.escape(credential.prefix) + r"\.[A-Za-z0-9_\-]{20,}")
    for response in responses:
        for text in _cookie_texts(response):
            for candidate in secret_like.findall(text):
                assert hash_secret(candidate) != credential.secret_hash, "the secret travelled in a cookie"
    assert form.status_code == 200 and 'name="revoked_at' not in form.content.decode()
    # shown once, in the page answering the creation itself
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    secret = created.context["secret"]
    assert hash_secret(secret) == credential.secret_hash and secret in created.content.decode()
    for response in responses[1:]:
        assert secret.split(".", 1)[1] not in response.content.decode()
    audit = CredentialAuditRecord.objects.get()
    assert (audit.action, audit.actor, audit.before) == (audit_action, admin_user.username, None)
    assert audit.after["prefix"] == credential.prefix and secret.split(".", 1)[1] not in str(audit.after)


def test_only_the_issue_permission_creates_credentials(staff_browser):
    viewer = staff_browser("view-val", permissions=[ALL_VIEW_PERMISSIONS])
    assert viewer.get(KEYS + "add/").status_code == 403
    assert viewer.post(KEYS + "add/", {"name": "sneaky"}).status_code == 403
    assert not ApiKey.objects.exists()
    sec = staff_browser("sec-sue", roles=("security admin",))
    created = sec.post(KEYS + "add/", {"name": "by-security", "scope": "read_write"})
    assert created.status_code == 200 and ApiKey.objects.get().name == "by-security"
    assert CredentialAuditRecord.objects.get().actor == "sec-sue"


def test_security_admin_renames_a_key_and_nothing_else(staff_browser, key):
    sec = staff_browser("sec-sid", roles=("security admin",))
    response = sec.post(f"{KEYS}{key.pk}/change/", {"name": "renamed", "revoked_at_0": "2020-01-01",
                                                    "revoked_at_1": "00:00:00"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.revoked_at) == ("renamed", None)
    assert CredentialAuditRecord.objects.get().action == "api_key_change"
    viewer = staff_browser("view-vin", permissions=[ALL_VIEW_PERMISSIONS])
    assert viewer.post(f"{KEYS}{key.pk}/change/", {"name": "hijacked"}).status_code == 403
