"""Issue 18, finding 3: /admin/login/ locks a username, and a client address, after N failures (even the right
password is refused until an operator unlocks it or the lockout expires); failures are logged and counted."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command
from django.test import Client
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 4
    return 4


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", password=PASSWORD)


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def _logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def _counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_wrong_passwords_lock_the_username_even_for_the_right_password(root, limit, caplog):
    failures, lockouts = _counter("admin_login_failures_total"), _counter("admin_login_lockouts_total")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    with caplog.at_level(logging.WARNING, logger="cadml.security"):
        for attempt in range(limit - 1):
            response = _login(attacker, "root", f"guess-{attempt}")
            assert response.status_code == 200 and b"Please enter the correct username" in response.content
        locked = _login(attacker, "root", "guess-last")
    assert locked.status_code == 429 and b"Login locked" in locked.content
    assert sum("admin login failed: username='root' address=203.0.113.7" in r.getMessage()
               for r in caplog.records) == limit
    assert not any("guess-" in r.getMessage() for r in caplog.records)  # passwords are never logged

    # the right password, from another address, is refused while the username is locked
    owner = Client(REMOTE_ADDR="198.51.100.9")
    refused = _login(owner, "root", PASSWORD)
    assert refused.status_code == 429 and b"Login locked" in refused.content
    assert not _logged_in(owner)
    assert _counter("admin_login_failures_total") - failures == limit + 1
    assert _counter("admin_login_lockouts_total") - lockouts == 2

    assert "attempts removed" in _run("axes_reset_username", "root")
    assert _login(owner, "root", PASSWORD).status_code == 302 and _logged_in(owner)


def test_failures_from_one_address_lock_that_address_for_every_username(root, limit):
    sprayer = Client(REMOTE_ADDR="203.0.113.50")
    for attempt in range(limit):
        _login(sprayer, f"user-{attempt}", "password")  # password spraying: a new username each time
    assert _login(sprayer, "root", PASSWORD).status_code == 429
    assert not _logged_in(sprayer)
    elsewhere = Client(REMOTE_ADDR="198.51.100.10")
    assert _login(elsewhere, "root", PASSWORD).status_code == 302  # root itself is not locked
    assert _login(elsewhere, "user-0", "password").status_code == 200  # nor are the sprayed usernames (1 failure)

    _run("axes_reset_ip", "203.0.113.50")
    assert _login(sprayer, "root", PASSWORD).status_code == 302 and _logged_in(sprayer)


def test_a_success_of_ones_own_does_not_clear_an_addresss_count(root, limit, django_user_model):
    django_user_model.objects.create_user("mallory", password=PASSWORD, is_staff=True)
    client = Client(REMOTE_ADDR="198.51.100.11")
    for attempt in range(limit - 1):
        assert _login(client, f"target-{attempt}", "guess").status_code == 200
    assert _login(client, "mallory", PASSWORD).status_code == 302  # her own account
    client.logout()
    assert _login(client, "target-x", "guess").status_code == 429  # the address reached the limit all the same


def test_client_address_behind_trusted_proxies(rf, settings):
    from cadml_site.api.login_throttle import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.2", REMOTE_ADDR="10.0.0.1")
    assert client_address(request) == "10.0.0.1"  # no proxy trusted: the header is the client's to forge
    settings.CADML_ADMIN_LOGIN_PROXY_COUNT = 2
    assert client_address(request) == "203.0.113.9"  # what the outer proxy saw; the forged left part is ignored
