"""Issue 18, finding 1 for the index: Recover now and Rebuild need vectors.recover_index and vectors.rebuild_index
(the API's recover and rebuild need the same)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from tests.conftest import ALL_VIEW_PERMISSIONS, admin_action_names
from tests.vectors.conftest import make_vectors, register
from vectors.models import IndexState, VectorOpsAudit
from vectors.services import index_degrade_drill

pytestmark = pytest.mark.django_db

STATES = "/admin/vectors/indexstate/"


def test_view_only_staff_sees_no_action_and_cannot_rebuild_or_recover(staff_browser):
    register("v4", make_vectors(5, 24))
    index_degrade_drill(feature_version="v4", reason="drill", actor="t")
    state = IndexState.objects.get()
    snapshot_generation = state.snapshot_generation
    viewer = staff_browser("view-vic", permissions=[ALL_VIEW_PERMISSIONS])
    page = viewer.get(STATES)
    assert page.status_code == 200 and admin_action_names(page) == set()
    for action in ("rebuild", "recover_now"):
        viewer.post(STATES, {"action": action, "_selected_action": [state.pk], "post": "yes", "reason": "no"})
    state = IndexState.objects.get()
    assert state.degraded and state.snapshot_generation == snapshot_generation
    assert not VectorOpsAudit.objects.exclude(action="index_degrade_drill").exists()
    assert not LogEntry.objects.exists()


def test_each_action_needs_its_own_permission(staff_browser):
    register("v4", make_vectors(5, 24))
    state = IndexState.objects.get()
    rebuilder = staff_browser("reb-rae", permissions=[ALL_VIEW_PERMISSIONS, "vectors.rebuild_index"])
    assert admin_action_names(rebuilder.get(STATES)) == {"rebuild"}
    rebuilder.post(STATES, {"action": "recover_now", "_selected_action": [state.pk], "post": "yes", "reason": "no"})
    assert not VectorOpsAudit.objects.filter(action="index_recover").exists()
    rebuilder.post(STATES, {"action": "rebuild", "_selected_action": [state.pk], "post": "yes", "reason": "yes"})
    assert IndexState.objects.get().snapshot_generation == 1
    assert LogEntry.objects.get().change_message == "rebuild: yes"


def test_operator_role_gets_both_actions(staff_browser):
    register("v4", make_vectors(5, 24))
    operator = staff_browser("op-olga", roles=("operator",))
    assert admin_action_names(operator.get(STATES)) == {"recover_now", "rebuild", "drill", "migrate_to_served"}
