"""Admin: read-only history, the window countdown, and Roll back / Restore with a reason (audited)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from cachectl import selectors
from cachectl.models import CacheAuditRecord, CacheSettingsChange, CacheSnapshot
from cachectl.services import cache_settings_apply, cache_settings_confirm

pytestmark = pytest.mark.django_db

CHANGES = "/admin/cachectl/cachesettingschange/"
SNAPSHOTS = "/admin/cachectl/cachesnapshot/"


def test_history_is_read_only_and_shows_the_window_countdown(admin_client):
    change = cache_settings_apply(actor="ops-alice", reason="admin view", capacity=321)
    page = admin_client.get(CHANGES).content.decode()
    assert f"Rollback window of change #{change.pk}" in page
    assert 'id="cachectl-countdown"' in page
    assert admin_client.get(CHANGES + "add/").status_code == 403
    assert admin_client.get(SNAPSHOTS + "add/").status_code == 403
    assert admin_client.get("/admin/cachectl/cacheauditrecord/add/").status_code == 403


def test_roll_back_action_asks_for_a_reason_then_rolls_back(admin_client, admin_user):
    before = selectors.cache_settings_state().settings_dict()
    change = cache_settings_apply(actor="ops-alice", reason="to undo", capacity=321)
    data = {"action": "roll_back", "_selected_action": [str(change.pk)]}
    confirm = admin_client.post(CHANGES, data)
    assert confirm.status_code == 200
    assert 'name="reason"' in confirm.content.decode()
    assert selectors.cache_settings_state().settings_dict()["capacity"] == 321  # nothing done yet

    missing_reason = admin_client.post(CHANGES, {**data, "post": "yes", "reason": ""})
    assert missing_reason.status_code == 200  # the form again
    assert selectors.cache_settings_state().settings_dict()["capacity"] == 321

    done = admin_client.post(CHANGES, {**data, "post": "yes", "reason": "hit ratio dropped"})
    assert done.status_code == 302
    assert selectors.cache_settings_state().settings_dict() == before
    change.refresh_from_db()
    assert change.outcome == CacheSettingsChange.Outcome.ROLLED_BACK
    audit = CacheAuditRecord.objects.first()
    assert (audit.action, audit.actor, audit.reason) == ("rollback", admin_user.username, "hit ratio dropped")
    assert LogEntry.objects.filter(object_id=str(change.pk), change_message__contains="roll_back").exists()


def test_roll_back_of_a_confirmed_change_is_refused_with_a_message(admin_client):
    change = cache_settings_apply(actor="ops-alice", reason="kept", capacity=321)
    cache_settings_confirm(actor="ops-alice")
    response = admin_client.post(CHANGES, {"action": "roll_back", "_selected_action": [str(change.pk)],
                                           "post": "yes", "reason": "too late"}, follow=True)
    assert "not the change with the open rollback window" in response.content.decode()
    assert selectors.cache_settings_state().settings_dict()["capacity"] == 321


def test_restore_action_applies_the_snapshot(admin_client):
    original = selectors.cache_settings_state().settings_dict()
    cache_settings_apply(actor="ops-alice", reason="changed", capacity=321)
    cache_settings_confirm(actor="ops-alice")
    snapshot = CacheSnapshot.objects.get()
    response = admin_client.post(SNAPSHOTS, {"action": "restore", "_selected_action": [str(snapshot.pk)],
                                             "post": "yes", "reason": "back to the original"})
    assert response.status_code == 302
    assert selectors.cache_settings_state().settings_dict() == original
    assert CacheAuditRecord.objects.first().action == "restore"
    assert LogEntry.objects.filter(object_id=str(snapshot.pk)).exists()
