"""Issue 18, finding 1 (API side): every sensitive operation names a Django permission of its own, and the admin
token's user must hold it; the same permission the matching admin action requires."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from cadml_site.api.permissions import HasOperationPermission

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _guarded_operations() -> list[tuple[str, str, type]]:
    """(method, concrete URL, view class) of every operation that needs an admin token."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if view is None or not route.startswith("api/v1/"):
            continue
        url = "/" + route.replace("<int:snapshot_id>", "1").replace("<int:run_id>", "1") \
            .replace("<str:prefix>", "abcd1234").replace("<str:key>", "some-key")
        classes = getattr(view, "permission_classes", [])
        if HasOperationPermission in classes:
            for method in ("get", "post", "put", "patch", "delete"):
                if hasattr(view, method):
                    found.append((method, url, view))
        elif getattr(view, "required_permission", None):  # per-method (vectors detail: DELETE is sensitive)
            found.append(("delete", url, view))
    return found


OPERATIONS = _guarded_operations()


def test_every_sensitive_operation_names_an_existing_permission_of_its_own():
    assert len(OPERATIONS) >= 17
    kinds = {}
    for _, url, view in OPERATIONS:
        permission = view.required_permission
        assert permission, view
        app_label, codename = permission.split(".", 1)
        assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), permission
        kinds.setdefault(permission, set()).add(view.__name__)
    # one permission per kind of operation, not one for everything
    assert {"modelops.reload_model", "modelops.rollback_model", "vectors.recover_index", "vectors.rebuild_index",
            "cachectl.rollback_cache", "cachectl.restore_cache_snapshot", "cadml_api.revoke_credential",
            "cadml_api.issue_credential", "cachectl.prewarm_cache", "vectors.drill_index"} <= set(kinds)
    assert len(kinds) >= 14


@pytest.fixture
def viewer_ops_client(api_key_secret, make_staff_user, make_admin_token):
    """Key + admin token of an active staff user who holds only the viewer role."""
    user = make_staff_user("view-vera", roles=("viewer",))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_secret, HTTP_X_ADMIN_TOKEN=make_admin_token(user)[1])
    return client


@pytest.mark.parametrize("method,url,view", OPERATIONS, ids=[f"{m.upper()} {u}" for m, u, _ in OPERATIONS])
def test_staff_token_without_the_permission_is_403(viewer_ops_client, method, url, view):
    response = getattr(viewer_ops_client, method)(url, {}, format="json")
    if view.required_permission.split(".", 1)[1].startswith("view_"):  # a read the viewer role holds
        assert response.status_code == 200, (url, response.content)
        return
    assert response.status_code == 403, (url, response.content)
    body = response.json()
    assert body["code"] == "permission_required"
    assert view.required_permission in body["detail"]


def test_the_one_permission_opens_its_operation_and_no_other(api_key_secret, make_staff_user, make_admin_token):
    user = make_staff_user("rel-rita", roles=())
    user.user_permissions.add(Permission.objects.get(codename="reload_model"))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_secret, HTTP_X_ADMIN_TOKEN=make_admin_token(user)[1])
    reload = client.post("/api/v1/model/reload/", {"version": 999, "reason": "try"}, format="json")
    assert reload.status_code in (400, 404) and reload.json()["code"] != "permission_required"  # past the permission
    rollback = client.post("/api/v1/model/rollback/", {"reason": "try"}, format="json")
    assert rollback.status_code == 403 and rollback.json()["code"] == "permission_required"


def test_superuser_token_needs_no_group(api_key_secret, django_user_model, make_admin_token):
    root = django_user_model.objects.create_superuser("root", password=None)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_secret, HTTP_X_ADMIN_TOKEN=make_admin_token(root)[1])
    response = client.post("/api/v1/auth/api-keys/", {"name": "from-root", "scope": "read_write"}, format="json")
    assert response.status_code == 201


def test_ops_persona_holds_every_operation_permission(ops_user):
    for _, _, view in OPERATIONS:
        assert ops_user.has_perm(view.required_permission), view.required_permission
