from __future__ import annotations

import io
import os
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


def test_create_api_key_prints_secret_alone_on_last_line():
    lines = _run("create_api_key", "cli-client")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=lines[-1])
    assert client.get("/api/v1/auth/whoami/").json()["api_key_name"] == "cli-client"


def test_create_api_key_twice_with_same_name_fails():
    _run("create_api_key", "dup")
    with pytest.raises(CommandError, match="already exists"):
        _run("create_api_key", "dup")


def test_create_admin_token_for_staff_user(make_staff_user):
    make_staff_user("ops-bob")
    key = _run("create_api_key", "ops")[-1]
    token = _run("create_admin_token", "ops-bob")[-1]
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key, HTTP_X_ADMIN_TOKEN=token)
    assert client.get("/api/v1/auth/whoami/").json()["staff_user"] == "ops-bob"


def test_create_admin_token_refuses_non_staff_and_unknown(make_staff_user):
    make_staff_user("carol", is_staff=False)
    with pytest.raises(CommandError, match="active staff"):
        _run("create_admin_token", "carol")
    with pytest.raises(CommandError, match="No user named"):
        _run("create_admin_token", "nobody")


def test_bootstrap_creates_once_and_writes_owner_only_file(tmp_path):
    from cadml_site.api.models import AdminToken, ApiKey

    target = tmp_path / "credentials"
    first = "\n".join(_run("bootstrap_credentials", "--file", str(target)))
    assert "API_KEY=" in first and "ADMIN_TOKEN=" in first and "ADMIN_PASSWORD=" in first
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    values = dict(line.split("=", 1) for line in target.read_text().splitlines())
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=values["API_KEY"], HTTP_X_ADMIN_TOKEN=values["ADMIN_TOKEN"])
    assert client.get("/api/v1/auth/whoami/").json()["sensitive_operations_allowed"] is True
    second = "\n".join(_run("bootstrap_credentials", "--file", str(target)))
    assert "created earlier" in second and values["API_KEY"] not in second
    assert ApiKey.objects.count() == 1 and AdminToken.objects.count() == 1
