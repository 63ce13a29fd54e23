"""Read-only history of cache settings changes, snapshots, prewarm runs and the audit trail, with the
"Roll back" and "Restore" actions (a confirmation page asking for a reason, then the service, then
``log_change``) and the current rollback window with its countdown."""

from __future__ import annotations

from django.contrib import admin, messages

from cachectl import selectors, services
from cachectl.models import (
    CacheAuditRecord,
    CacheKeyActivity,
    CachePrewarmRun,
    CacheSettings,
    CacheSettingsChange,
    CacheSnapshot,
)
from cadml_site.admin_base import ReadOnlyAdmin, confirmation_page, reason_form, user_permission
from cadml_site.errors import Conflict, DomainError

CONFIRM_TEMPLATE = "admin/cachectl/confirm_action.html"


def _confirm_then(modeladmin, request, queryset, *, title: str, description: str, action: str, run):
    """delete_selected-style flow: one object, a reason on a confirmation page, the service, log_change."""
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one row.", messages.ERROR)
        return None
    obj = queryset.first()
    form = reason_form(request)
    if request.POST.get("post") and form.is_valid():
        try:
            change = run(obj, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
        except DomainError as exc:
            modeladmin.message_user(request, f"{exc.message} ({exc.code})", messages.ERROR)
            return None
        modeladmin.log_change(request, obj, f"{action}: {form.cleaned_data['reason']}")
        modeladmin.message_user(request, f"{title}: done (change #{change.pk}, settings {change.after}).",
                                messages.SUCCESS)
        return None
    return confirmation_page(modeladmin, request, queryset, template=CONFIRM_TEMPLATE, form=form, title=title,
                             action=action, description=description, object=obj,
                             rollback_window=selectors.cache_rollback_window())


@admin.action(description="Roll back the selected change (inside its window)", permissions=["rollback_cache"])
def roll_back(modeladmin, request, queryset):
    def run(change, *, actor, reason):
        window = selectors.cache_window_change()
        if window is None or window.pk != change.pk:
            raise Conflict(f"Change #{change.pk} is not the change with the open rollback window.",
                           code="not_the_window_change")
        return services.cache_settings_rollback(actor=actor, reason=reason)

    return _confirm_then(modeladmin, request, queryset, title="Roll back a cache settings change",
                         description="Restores the settings this change replaced, in every process within 5 s.",
                         action="roll_back", run=run)


@admin.action(description="Restore the selected snapshot's settings", permissions=["restore_cache_snapshot"])
def restore(modeladmin, request, queryset):
    def run(snapshot, *, actor, reason):
        return services.cache_snapshot_restore(snapshot_id=snapshot.pk, actor=actor, reason=reason)

    return _confirm_then(modeladmin, request, queryset, title="Restore a cache snapshot",
                         description="Applies the snapshot's settings (opens a new rollback window).",
                         action="restore", run=run)


class WindowCountdownMixin:
    change_list_template = "admin/cachectl/change_list_with_window.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "rollback_window": selectors.cache_rollback_window()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(CacheSettingsChange)
class CacheSettingsChangeAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "actor", "before", "after", "outcome", "deadline", "resolved_by")
    list_filter = ("kind", "outcome", "created_at")
    search_fields = ("actor", "reason", "resolved_by")
    ordering = ("-created_at", "-id")
    actions = [roll_back]
    has_rollback_cache_permission = user_permission("cachectl.rollback_cache")  # as the API's rollback


@admin.register(CacheSnapshot)
class CacheSnapshotAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    list_display = ("id", "created_at", "capacity", "ttl_seconds", "policy", "generation", "taken_by", "reason")
    list_filter = ("policy", "created_at")
    search_fields = ("taken_by", "reason")
    ordering = ("-created_at", "-id")
    actions = [restore]
    has_restore_cache_snapshot_permission = user_permission("cachectl.restore_cache_snapshot")  # as the API's restore


@admin.register(CacheSettings)
class CacheSettingsAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    """A singleton: the page says which settings are in force (the environment's defaults until the first
    change writes the row) instead of counting rows."""

    change_list_template = "admin/cachectl/cachesettings/change_list.html"
    list_display = ("capacity", "ttl_seconds", "policy", "generation", "prewarm_generation", "updated_at")

    def changelist_view(self, request, extra_context=None):
        state = selectors.cache_settings_state()
        extra_context = {**(extra_context or {}), "title": "Cache settings in force", "current_settings": state,
                         "from_defaults": state.generation == 0}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(CacheAuditRecord)
class CacheAuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "reason", "request_id")
    list_filter = ("action", "created_at")
    search_fields = ("actor", "reason", "request_id")
    ordering = ("-created_at", "-id")


@admin.register(CachePrewarmRun)
class CachePrewarmRunAdmin(ReadOnlyAdmin):
    list_display = ("generation", "created_at", "actor", "limit", "tiers", "loaded", "skipped", "failed")
    list_filter = ("created_at",)
    search_fields = ("actor",)
    ordering = ("-generation",)
    exclude = ("entries",)


@admin.register(CacheKeyActivity)
class CacheKeyActivityAdmin(ReadOnlyAdmin):
    list_display = ("sha256", "version", "hits", "lookups", "last_hit_at", "last_lookup_at")
    list_filter = ("version", "last_lookup_at")
    search_fields = ("sha256",)
    ordering = ("-last_lookup_at", "-id")
