"""Admin: upload, Activate/Rollback with confirmation and reason (audited), read-only attempts, opcode audit."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from modelops.models import ModelReloadAttempt, ModelVersion
from modelops.registry import holder

pytestmark = pytest.mark.django_db


def test_upload_through_the_admin_add_form(admin_client_logged_in, model_dir, make_model_bytes):
    raw = make_model_bytes(seed=4)
    response = admin_client_logged_in.post(reverse("admin:modelops_modelversion_add"), {
        "label": "admin-upload", "feature_version": "v4", "file": io.BytesIO(raw), "reason": "from admin"})
    assert response.status_code == 302
    version = ModelVersion.objects.get(label="admin-upload")
    assert version.created_by == "root-admin" and version.status == "candidate"


def test_activate_and_rollback_actions_ask_for_a_reason(admin_client_logged_in, register_model):
    a = register_model("a", seed=1)
    b = register_model("b", seed=2)
    url = reverse("admin:modelops_modelversion_changelist")
    page = admin_client_logged_in.post(url, {"action": "activate", "_selected_action": [a.pk]})
    assert page.status_code == 200 and b"reason" in page.content and b"Yes, I'm sure" in page.content
    assert holder.active() is None
    for version in (a, b):
        response = admin_client_logged_in.post(url, {"action": "activate", "_selected_action": [version.pk],
                                                     "post": "yes", "reason": f"activate {version.label}"})
        assert response.status_code == 302
    assert holder.active().label == "b"
    response = admin_client_logged_in.post(url, {"action": "rollback", "_selected_action": [b.pk], "post": "yes",
                                                 "reason": "b is wrong"})
    assert response.status_code == 302 and holder.active().label == "a"
    messages = list(LogEntry.objects.values_list("change_message", flat=True))
    assert any("rollback: b is wrong" in m for m in messages) and any("activate: activate a" in m for m in messages)
    assert ModelReloadAttempt.objects.filter(action="rollback", actor="root-admin", reason="b is wrong").exists()


def test_attempts_are_read_only_and_render_findings(admin_client_logged_in, model_dir):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return os.system, ("true",)

    from modelops.security.errors import OpcodeBlocked
    from modelops.services import model_version_upload

    with pytest.raises(OpcodeBlocked):
        model_version_upload(data=pickle.dumps(Evil(), protocol=4), label="evil", actor="x")
    attempt = ModelReloadAttempt.objects.get()
    page = admin_client_logged_in.get(reverse("admin:modelops_modelreloadattempt_change", args=[attempt.pk]))
    assert page.status_code == 200 and b"posix:system" in page.content and b"global_denied" in page.content
    assert admin_client_logged_in.get(reverse("admin:modelops_modelreloadattempt_add")).status_code == 403
    response = admin_client_logged_in.post(reverse("admin:modelops_modelreloadattempt_delete", args=[attempt.pk]),
                                           {"post": "yes"})
    assert response.status_code == 403 and ModelReloadAttempt.objects.count() == 1


def test_opcode_audit_view_and_allowlist_export(admin_client_logged_in, register_model):
    register_model("a", seed=1)
    page = admin_client_logged_in.get(reverse("admin:modelops_opcodeaudit_summary"))
    assert page.status_code == 200 and b"sklearn.ensemble._forest:RandomForestClassifier" in page.content
    export = admin_client_logged_in.get(reverse("admin:modelops_opcodeaudit_export"))
    body = export.json()
    assert "sklearn.ensemble._forest:RandomForestClassifier" in body["globals"] and "BUILD" in body["opcodes"]
    assert all(":" in name for name in body["globals"])  # exact names, never module prefixes
    assert admin_client_logged_in.get(reverse("admin:modelops_opcodeauditentry_changelist")).status_code == 200
