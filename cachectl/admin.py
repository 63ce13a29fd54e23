"""Read-only history of cache settings changes, snapshots, prewarm runs and the audit trail, with the
"Roll back" and "Restore" actions (a confirmation page asking for a reason, then the service, then
``log_change``), the "Apply new settings" page (a form, a confirmation page saying what changes, then the same
service as ``POST cache/apply/``) and the current rollback window with its countdown."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cachectl import models, selectors, services
from cadml_site.admin_base import ReadOnlyAdmin, confirmation_page, reason_form, user_permission
from cadml_site.errors import Conflict, DomainError

CONFIRM_TEMPLATE = "admin/cachectl/confirm_action.html"
APPLY_TEMPLATE = "admin/cachectl/cachesettings/apply.html"
CONFIRM_APPLY_TEMPLATE = "admin/cachectl/cachesettings/confirm_apply.html"


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


class CacheSettingsForm(forms.Form):
    """The values to apply; their upper bounds are the apply service's to check (``out_of_bounds``)."""

    capacity = forms.IntegerField(min_value=1, help_text="Entries per process.")
    ttl_seconds = forms.IntegerField(min_value=1, label="TTL (seconds)")
    policy = forms.ChoiceField(choices=models.POLICY_CHOICES)


class WindowCountdownMixin:
    change_list_template = "admin/cachectl/change_list_with_window.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "rollback_window": selectors.cache_rollback_window()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(models.CacheSettingsChange)
class CacheSettingsChangeAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "actor", "before", "after", "outcome", "deadline", "resolved_by")
    list_filter = ("kind", "outcome", "created_at")
    search_fields = ("actor", "reason", "resolved_by")
    ordering = ("-created_at", "-id")
    actions = [roll_back]
    has_rollback_cache_permission = user_permission("cachectl.rollback_cache")  # as the API's rollback


@admin.register(models.CacheSnapshot)
class CacheSnapshotAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    list_display = ("id", "created_at", "capacity", "ttl_seconds", "policy", "generation", "taken_by", "reason")
    list_filter = ("policy", "created_at")
    search_fields = ("taken_by", "reason")
    ordering = ("-created_at", "-id")
    actions = [restore]
    has_restore_cache_snapshot_permission = user_permission("cachectl.restore_cache_snapshot")  # as the API's restore


@admin.register(models.CacheSettings)
class CacheSettingsAdmin(WindowCountdownMixin, ReadOnlyAdmin):
    """A singleton: the page says which settings are in force (the environment's defaults until the first
    change writes the row) instead of counting rows."""

    change_list_template = "admin/cachectl/cachesettings/change_list.html"
    list_display = ("capacity", "ttl_seconds", "policy", "generation", "prewarm_generation", "updated_at")
    has_apply_cache_settings_permission = user_permission("cachectl.apply_cache_settings")  # as the API's apply

    def get_urls(self):
        return [path("apply/", self.admin_site.admin_view(self.apply_view), name="cachectl_cachesettings_apply"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        state = selectors.cache_settings_state()
        extra_context = {**(extra_context or {}), "title": "Cache settings in force", "current_settings": state,
                         "from_defaults": state.generation == 0,
                         "can_apply": self.has_apply_cache_settings_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def apply_view(self, request):
        """Apply new settings: the form (the settings in force filled in), then a confirmation page saying what
        changes and asking for a reason, then ``cache_settings_apply`` (the API's apply), ``log_change`` and the
        settings page with the rollback window the change opened."""
        if not self.has_apply_cache_settings_permission(request):
            raise PermissionDenied
        current = selectors.cache_settings_state().settings_dict()
        form = CacheSettingsForm(request.POST if request.method == "POST" else None, initial=current)
        if form.is_valid():
            changes = {name: value for name, value in form.cleaned_data.items() if value != current[name]}
            if not changes:
                form.add_error(None, "These are the settings in force: change at least one value.")
            else:
                reason = reason_form(request)
                if not (request.POST.get("post") and reason.is_valid()):
                    return self._settings_page(request, CONFIRM_APPLY_TEMPLATE, "Apply new cache settings", form,
                                               reason_form=reason, changes=[(name, current[name], value)
                                                                            for name, value in changes.items()])
                try:
                    change = services.cache_settings_apply(actor=request.user.get_username(),
                                                           reason=reason.cleaned_data["reason"], **changes)
                except DomainError as exc:
                    field = exc.context.get("field") if exc.context.get("field") in form.fields else None
                    form.add_error(field, f"{exc.message} ({exc.code})")
                else:
                    self.log_change(request, change, f"apply: {reason.cleaned_data['reason']}")
                    self.message_user(request, f"Applied (change #{change.pk}): settings {change.after}; the "
                                               f"rollback window is open below.", messages.SUCCESS)
                    return redirect(reverse("admin:cachectl_cachesettings_changelist"))
        return self._settings_page(request, APPLY_TEMPLATE, "Apply new cache settings", form)

    def _settings_page(self, request, template: str, title: str, form, **extra) -> TemplateResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request), "title": title, "opts": self.model._meta, "form": form,
            "current_settings": selectors.cache_settings_state(), "bounds": selectors.cache_settings_bounds(),
            "rollback_window": selectors.cache_rollback_window(),
            "window_seconds": settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS, **extra,
        })


@admin.register(models.CacheAuditRecord)
class CacheAuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "reason", "request_id")
    list_filter = ("action", "created_at")
    search_fields = ("actor", "reason", "request_id")
    ordering = ("-created_at", "-id")


@admin.register(models.CachePrewarmRun)
class CachePrewarmRunAdmin(ReadOnlyAdmin):
    list_display = ("generation", "created_at", "actor", "limit", "tiers", "loaded", "skipped", "failed")
    list_filter = ("created_at",)
    search_fields = ("actor",)
    ordering = ("-generation",)
    exclude = ("entries",)


@admin.register(models.CacheKeyActivity)
class CacheKeyActivityAdmin(ReadOnlyAdmin):
    list_display = ("sha256", "version", "hits", "lookups", "last_hit_at", "last_lookup_at")
    list_filter = ("version", "last_lookup_at")
    search_fields = ("sha256",)
    ordering = ("-last_lookup_at", "-id")
