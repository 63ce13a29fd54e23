"""The admin's "Apply new settings" page: a form with the settings in force, a confirmation page saying what
changes (old -> new) and asking for a reason, then the API's apply service under the API's permission, audited
with the actor, and the rollback window it opened shown."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry

from cachectl import selectors
from cachectl.api.views import CacheSettingsApplyApi
from cachectl.models import CacheAuditRecord, CacheSettingsChange
from cachectl.services import cache_settings_apply

pytestmark = pytest.mark.django_db

APPLY = "/admin/cachectl/cachesettings/apply/"
SETTINGS = "/admin/cachectl/cachesettings/"


def values(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="number" name="(\w+)" value="(\d+)"', html))


def test_the_page_needs_exactly_the_permission_the_api_requires(staff_browser):
    view = "cachectl.view_cachesettings"
    allowed = staff_browser("apply-ann", permissions=[view, CacheSettingsApplyApi.required_permission])
    assert allowed.get(APPLY).status_code == 200
    others = [p for p in ("cachectl.rollback_cache", "cachectl.restore_cache_snapshot", "cachectl.prewarm_cache")]
    assert staff_browser("other-otto", permissions=[view, *others]).get(APPLY).status_code == 403


def test_a_viewer_may_not_apply(staff_browser):
    before = selectors.cache_settings_state().settings_dict()
    viewer = staff_browser("view-vic", roles=("viewer",))
    assert "cache-settings-apply-link" not in viewer.get(SETTINGS).content.decode()
    assert viewer.get(APPLY).status_code == 403
    posted = viewer.post(APPLY, {"capacity": 3000, "ttl_seconds": before["ttl_seconds"], "policy": before["policy"],
                                 "post": "yes", "reason": "not allowed"})
    assert posted.status_code == 403
    assert selectors.cache_settings_state().settings_dict() == before
    assert not CacheAuditRecord.objects.exists() and not LogEntry.objects.exists()


def test_an_operator_applies_through_the_form_and_the_confirmation_page(staff_browser):
    before = selectors.cache_settings_state().settings_dict()
    operator = staff_browser("op-olga", roles=("operator",))
    assert "cache-settings-apply-link" in operator.get(SETTINGS).content.decode()
    form = operator.get(APPLY)
    assert form.status_code == 200
    assert values(form.content.decode()) == {"capacity": str(before["capacity"]),
                                             "ttl_seconds": str(before["ttl_seconds"])}
    assert f'<option value="{before["policy"]}" selected>' in form.content.decode()

    new = {"capacity": 3000, "ttl_seconds": 600, "policy": before["policy"]}
    confirm = operator.post(APPLY, new)
    html = confirm.content.decode()
    assert confirm.status_code == 200 and 'name="reason"' in html and 'id="action-summary"' in html
    rows = re.findall(r"<tr><td>(\w+)</td><td>([\w-]+)</td><td>([\w-]+)</td></tr>", html)
    assert rows == [("capacity", str(before["capacity"]), "3000"), ("ttl_seconds", str(before["ttl_seconds"]), "600")]
    assert selectors.cache_settings_state().settings_dict() == before  # nothing applied yet

    without_reason = operator.post(APPLY, {**new, "post": "yes", "reason": ""})
    assert without_reason.status_code == 200 and 'name="reason"' in without_reason.content.decode()
    assert selectors.cache_settings_state().settings_dict() == before

    done = operator.post(APPLY, {**new, "post": "yes", "reason": "larger part library"}, follow=True)
    assert done.redirect_chain[-1][0] == SETTINGS
    assert selectors.cache_settings_state().settings_dict() == {**before, "capacity": 3000, "ttl_seconds": 600}
    change = CacheSettingsChange.objects.get()
    assert (change.kind, change.actor, change.outcome) == ("apply", "op-olga", "open")
    audit = CacheAuditRecord.objects.get()
    assert (audit.action, audit.actor, audit.reason) == ("apply", "op-olga", "larger part library")
    assert audit.before == before and audit.after["capacity"] == 3000
    assert LogEntry.objects.filter(user__username="op-olga", object_id=str(change.pk),
                                   change_message="apply: larger part library").exists()
    page = done.content.decode()
    assert f"Rollback window of change #{change.pk}" in page and 'id="cachectl-countdown"' in page
    assert f"Applied (change #{change.pk})" in page


def test_what_the_service_refuses_is_shown_on_the_form(staff_browser, settings):
    before = selectors.cache_settings_state().settings_dict()
    operator = staff_browser("op-olga", roles=("operator",))
    too_big = operator.post(APPLY, {**before, "capacity": settings.CADML_CACHE_MAX_CAPACITY + 1, "post": "yes",
                                    "reason": "too much"}).content.decode()
    assert "out_of_bounds" in too_big and 'id="cache-settings-apply"' in too_big
    unchanged = operator.post(APPLY, before).content.decode()
    assert "These are the settings in force" in unchanged and 'name="reason"' not in unchanged

    cache_settings_apply(actor="ops-alice", reason="window open", capacity=4000)
    refused = operator.post(APPLY, {**before, "capacity": 5000, "post": "yes", "reason": "second"}).content.decode()
    assert "rollback_window_active" in refused
    assert selectors.cache_settings_state().settings_dict()["capacity"] == 4000
    assert CacheAuditRecord.objects.filter(actor="op-olga").count() == 0
