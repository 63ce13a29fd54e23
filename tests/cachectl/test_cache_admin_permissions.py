"""Issue 18, finding 1 for the cache: Roll back and Restore need cachectl.rollback_cache and
cachectl.restore_cache_snapshot (the API's rollback and restore need the same)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from cachectl import selectors
from cachectl.models import CacheAuditRecord, CacheSnapshot
from cachectl.services import cache_settings_apply, cache_settings_confirm
from tests.conftest import ALL_VIEW_PERMISSIONS, admin_action_names

pytestmark = pytest.mark.django_db

CHANGES = "/admin/cachectl/cachesettingschange/"
SNAPSHOTS = "/admin/cachectl/cachesnapshot/"


def test_view_only_staff_sees_no_action_and_cannot_roll_back_or_restore(staff_browser):
    cache_settings_apply(actor="ops-alice", reason="first", capacity=321)
    cache_settings_confirm(actor="ops-alice")
    change = cache_settings_apply(actor="ops-alice", reason="second", capacity=654)
    snapshot = CacheSnapshot.objects.order_by("id").first()
    audits = CacheAuditRecord.objects.count()
    viewer = staff_browser("view-vic", permissions=[ALL_VIEW_PERMISSIONS])
    for url in (CHANGES, SNAPSHOTS):
        page = viewer.get(url)
        assert page.status_code == 200 and admin_action_names(page) == set()
    viewer.post(CHANGES, {"action": "roll_back", "_selected_action": [change.pk], "post": "yes", "reason": "no"})
    viewer.post(SNAPSHOTS, {"action": "restore", "_selected_action": [snapshot.pk], "post": "yes", "reason": "no"})
    assert selectors.cache_settings_state().settings_dict()["capacity"] == 654
    assert CacheAuditRecord.objects.count() == audits and not LogEntry.objects.exists()


def test_each_action_needs_its_own_permission(staff_browser):
    change = cache_settings_apply(actor="ops-alice", reason="to undo", capacity=321)
    roller = staff_browser("rol-ron", permissions=[ALL_VIEW_PERMISSIONS, "cachectl.rollback_cache"])
    assert admin_action_names(roller.get(CHANGES)) == {"roll_back"}
    assert admin_action_names(roller.get(SNAPSHOTS)) == set()
    done = roller.post(CHANGES, {"action": "roll_back", "_selected_action": [change.pk], "post": "yes",
                                 "reason": "allowed"})
    assert done.status_code == 302
    assert selectors.cache_settings_state().settings_dict()["capacity"] != 321
    assert CacheAuditRecord.objects.first().actor == "rol-ron"


def test_operator_role_gets_both_actions(staff_browser):
    cache_settings_apply(actor="ops-alice", reason="a change and a snapshot to act on", capacity=321)
    operator = staff_browser("op-olga", roles=("operator",))
    assert admin_action_names(operator.get(CHANGES)) == {"roll_back"}
    assert admin_action_names(operator.get(SNAPSHOTS)) == {"restore"}
