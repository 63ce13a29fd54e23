"""Issue 18, finding 1 for model versions: Activate and Rollback need modelops.reload_model and
modelops.rollback_model (the API's reload and rollback need the same); upload needs modelops.upload_model."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry

from modelops.models import ModelReloadAttempt, ModelVersion
from modelops.registry import holder
from tests.conftest import ALL_VIEW_PERMISSIONS, admin_action_names

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/modelops/modelversion/"


def test_view_only_staff_sees_no_action_and_cannot_activate(staff_browser, register_model):
    version = register_model("a", seed=1)
    attempts = ModelReloadAttempt.objects.count()
    viewer = staff_browser("view-vic", permissions=[ALL_VIEW_PERMISSIONS])
    page = viewer.get(VERSIONS)
    assert page.status_code == 200 and admin_action_names(page) == set()
    for action in ("activate", "rollback"):
        viewer.post(VERSIONS, {"action": action, "_selected_action": [version.pk], "post": "yes",
                               "reason": "not mine to do"})
    assert holder.active() is None
    assert ModelReloadAttempt.objects.count() == attempts and not LogEntry.objects.exists()


def test_each_action_needs_its_own_permission(staff_browser, register_model):
    version = register_model("a", seed=1)
    reloader = staff_browser("rel-rob", permissions=[ALL_VIEW_PERMISSIONS, "modelops.reload_model"])
    assert admin_action_names(reloader.get(VERSIONS)) == {"activate"}
    reloader.post(VERSIONS, {"action": "rollback", "_selected_action": [version.pk], "post": "yes", "reason": "no"})
    assert not ModelReloadAttempt.objects.filter(action="rollback").exists()
    done = reloader.post(VERSIONS, {"action": "activate", "_selected_action": [version.pk], "post": "yes",
                                    "reason": "allowed"})
    assert done.status_code == 302 and holder.active().label == "a"
    assert ModelReloadAttempt.objects.filter(action="activate", actor="rel-rob", reason="allowed").exists()


def test_operator_role_gets_both_actions(staff_browser, register_model):
    register_model("a", seed=1)  # the admin offers actions only on a non-empty list
    operator = staff_browser("op-olga", roles=("operator",))
    assert admin_action_names(operator.get(VERSIONS)) == {"activate", "rollback"}


def test_upload_needs_the_upload_permission(staff_browser, model_dir, make_model_bytes):
    viewer = staff_browser("view-vic", permissions=[ALL_VIEW_PERMISSIONS])
    form = {"label": "sneaky", "feature_version": "v4", "file": io.BytesIO(make_model_bytes(seed=3)), "reason": ""}
    assert viewer.post(VERSIONS + "add/", form).status_code == 403
    assert not ModelVersion.objects.exists()
    operator = staff_browser("op-olga", roles=("operator",))
    form["file"] = io.BytesIO(make_model_bytes(seed=3))
    assert operator.post(VERSIONS + "add/", form).status_code == 302
    assert ModelVersion.objects.get().created_by == "op-olga"


def test_opcode_audit_pages_need_the_view_permission(staff_browser):
    bare = staff_browser("bare-bo")
    assert bare.get("/admin/modelops/opcodeauditentry/summary/").status_code == 403
    assert bare.get("/admin/modelops/opcodeauditentry/export/").status_code == 403
    viewer = staff_browser("view-vic", roles=("viewer",))
    assert viewer.get("/admin/modelops/opcodeauditentry/summary/").status_code == 200
    assert viewer.get("/admin/modelops/opcodeauditentry/export/").status_code == 200
