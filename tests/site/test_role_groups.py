"""Issue 18, finding 1: the role groups shipped by the data migration, and the bootstrap operator can do all."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from cadml_site.api import roles

pytestmark = pytest.mark.django_db


def _perms(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_the_migration_created_the_three_roles():
    groups = {group.name: _perms(group) for group in Group.objects.filter(name__in=roles.ALL_ROLES)}
    assert set(groups) == {"viewer", "operator", "security admin"}
    viewer, operator, security = groups["viewer"], groups["operator"], groups["security admin"]
    assert viewer and all(p.split(".")[1].startswith("view_") for p in viewer)
    assert {p.split(".")[0] for p in viewer} == set(roles.VIEWER_APPS)
    assert operator == viewer | set(roles.OPERATOR_PERMISSIONS)
    assert security == set(roles.SECURITY_ADMIN_PERMISSIONS)
    # no role may manage users or groups (that would grant any role): superusers only
    for perms in groups.values():
        assert not {p for p in perms if p.startswith("auth.") and not p.startswith("auth.view_")}
    # the credential permissions belong to the security admin alone
    assert "cadml_api.revoke_credential" not in operator and "modelops.reload_model" not in security


def test_bootstrap_operator_can_run_every_operation(tmp_path):
    out = io.StringIO()
    call_command("bootstrap_credentials", "--file", str(tmp_path / "credentials"), stdout=out)
    values = dict(line.split("=", 1) for line in (tmp_path / "credentials").read_text().splitlines())
    user = get_user_model().objects.get(username=values["ADMIN_USERNAME"])
    from tests.site.test_operation_permissions import OPERATIONS

    assert all(user.has_perm(view.required_permission) for _, _, view in OPERATIONS)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=values["API_KEY"], HTTP_X_ADMIN_TOKEN=values["ADMIN_TOKEN"])
    assert client.post("/api/v1/auth/api-keys/", {"name": "from-bootstrap", "scope": "read_write"}, format="json").status_code == 201
    assert client.post("/api/v1/cache/prewarm/", {"limit": 1}, format="json").status_code != 403
