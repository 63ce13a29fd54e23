"""Admin: model versions (upload, Activate and Rollback with a confirmation page and a reason), the
read-only reload-attempt audit trail with rendered findings, and the opcode audit view with the
learnt allow-list export."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cadml_site.admin_base import ReadOnlyAdmin, confirmation_page, reason_form, user_permission
from cadml_site.errors import DomainError
from modelops import selectors, services
from modelops.models import ModelReloadAttempt, ModelVersion, OpcodeAuditEntry

CONFIRM_TEMPLATE = "admin/modelops/confirm_action.html"


class ModelUploadForm(forms.ModelForm):
    file = forms.FileField(help_text="A pickle (protocol 2-5) or joblib file; scanned before it is stored.")
    reason = forms.CharField(required=False, max_length=2000)

    class Meta:
        model = ModelVersion
        fields = ["label", "feature_version"]


def _confirm_then(modeladmin, request, queryset, *, title, description, action, run):
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one model version.", messages.ERROR)
        return None
    obj = queryset.first()
    form = reason_form(request)
    if request.POST.get("post") and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            result = run(obj, actor=request.user.get_username(), reason=reason)
        except DomainError as exc:
            modeladmin.message_user(request, f"{exc.message} ({exc.code}, stage {exc.stage})", messages.ERROR)
            return None
        modeladmin.log_change(request, result, f"{action}: {reason}")
        modeladmin.message_user(request, f"{title}: {result.label} is active.", messages.SUCCESS)
        return None
    return confirmation_page(modeladmin, request, queryset, template=CONFIRM_TEMPLATE, form=form, title=title,
                             action=action, description=description, object=obj, status=selectors.model_status())


@admin.action(description="Activate the selected version (reload)", permissions=["reload_model"])
def activate(modeladmin, request, queryset):
    return _confirm_then(
        modeladmin, request, queryset, title="Activate a model version", action="activate",
        description="The file is read, hash-checked, scanned, loaded with the restricted loader, validated "
                    "and swapped in; on any failure the active model stays.",
        run=lambda obj, *, actor, reason: services.model_reload(version=obj.pk, actor=actor, reason=reason,
                                                                 action="activate"))


@admin.action(description="Roll back to the previous version", permissions=["rollback_model"])
def rollback(modeladmin, request, queryset):
    return _confirm_then(
        modeladmin, request, queryset, title="Roll back the active model", action="rollback",
        description="The most recent previous version is loaded again and becomes active (two levels kept).",
        run=lambda obj, *, actor, reason: services.model_rollback(actor=actor, reason=reason))


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("label", "status", "estimator_short", "feature_version", "container", "compression", "size",
                    "sha256_short", "created_by", "created_at", "activated_at")
    list_filter = ("status", "container", "feature_version", "created_at")
    search_fields = ("label", "sha256", "created_by")
    ordering = ("-created_at", "-id")
    actions = [activate, rollback]
    readonly_fields = ("label", "sha256", "size", "container", "compression", "protocol", "file_name",
                       "feature_version", "estimator", "n_features", "classes", "status", "metrics",
                       "scan_report_rendered", "created_by", "created_at", "loaded_at", "activated_at")
    exclude = ("scan_report",)

    # The same permissions as the API's upload/register, reload and rollback operations.
    has_add_permission = user_permission("modelops.upload_model")
    has_reload_model_permission = user_permission("modelops.reload_model")
    has_rollback_model_permission = user_permission("modelops.rollback_model")

    @admin.display(description="sha256")
    def sha256_short(self, obj):
        return obj.sha256[:12]

    @admin.display(description="estimator")
    def estimator_short(self, obj):
        return obj.estimator.rsplit(":", 1)[-1]

    @admin.display(description="scan report")
    def scan_report_rendered(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.scan_report, indent=1, default=str)[:20000])

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ModelUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_exclude(self, request, obj=None):
        return self.exclude if obj is not None else None

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["label", "feature_version", "file", "reason"]
        return list(self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Uploads go through the service: intake, scan, storage in CADML_MODEL_DIR, audit."""
        try:
            version = services.model_version_upload(
                data=form.cleaned_data["file"].read(), label=form.cleaned_data["label"],
                feature_version=form.cleaned_data.get("feature_version") or "", actor=request.user.get_username(),
                reason=form.cleaned_data.get("reason") or "")
        except DomainError as exc:
            request._modelops_upload_error = exc  # per request: the ModelAdmin instance is shared
            return
        obj.pk = version.pk
        obj.__dict__.update({k: v for k, v in version.__dict__.items() if not k.startswith("_")})

    def log_addition(self, request, obj, message):
        if obj.pk is not None:
            super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        error = getattr(request, "_modelops_upload_error", None)
        if error is not None:
            self.message_user(request, f"Upload refused: {error.message} ({error.code}, stage {error.stage})",
                              messages.ERROR)
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)


@admin.register(ModelReloadAttempt)
class ModelReloadAttemptAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "outcome", "code", "stage", "version", "sha256_short", "mode",
                    "actor", "duration_ms")
    list_filter = ("action", "outcome", "code", "mode", "created_at")
    search_fields = ("sha256", "actor", "message", "reason", "request_id")
    ordering = ("-created_at", "-id")
    readonly_fields = ("created_at", "actor", "request_id", "action", "reason", "version", "sha256", "mode",
                       "outcome", "code", "stage", "message", "findings_rendered", "duration_ms", "before", "after")
    exclude = ("findings",)

    @admin.display(description="sha256")
    def sha256_short(self, obj):
        return obj.sha256[:12]

    @admin.display(description="findings")
    def findings_rendered(self, obj):
        if not obj.findings:
            return "none"
        return format_html("<table><tr><th>rule</th><th>offset</th><th>opcode</th><th>global</th>"
                           "<th>detail</th></tr>{}</table>",
                           format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                            ((f.get("rule"), f.get("offset"), f.get("opcode") or "",
                                              f.get("global") or "", f.get("detail") or "") for f in obj.findings)))


@admin.register(OpcodeAuditEntry)
class OpcodeAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("kind", "name", "count", "samples", "first_seen", "last_seen")
    list_filter = ("kind", "last_seen")
    search_fields = ("name",)
    ordering = ("kind", "-count", "name")

    def get_urls(self):
        return [
            path("summary/", self.admin_site.admin_view(self.summary_view), name="modelops_opcodeaudit_summary"),
            path("export/", self.admin_site.admin_view(self.export_view), name="modelops_opcodeaudit_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "summary_url": reverse("admin:modelops_opcodeaudit_summary")}
        return super().changelist_view(request, extra_context)

    def summary_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "admin/modelops/opcode_audit.html", {
            **self.admin_site.each_context(request), "title": "Opcode audit", "opts": self.model._meta,
            "summary": selectors.opcode_audit_summary(),
            "export_url": reverse("admin:modelops_opcodeaudit_export"),
        })

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        body = json.dumps(selectors.opcode_audit_learnt_allowlist(), indent=1)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="learnt-allowlist.json"'
        return response
