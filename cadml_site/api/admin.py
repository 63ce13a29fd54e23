"""Admin for API keys and admin tokens: the secret is generated on save and shown once."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from cadml_site.admin_base import ReadOnlyAdmin
from cadml_site.api.models import AdminToken, ApiKey, CredentialAuditRecord, new_credential


class CredentialStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("active", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "active")
        return queryset


class CredentialAdmin(admin.ModelAdmin):
    readonly_fields = ("prefix", "created_at", "last_used_at")
    list_filter = (CredentialStateFilter, "created_at", "last_used_at")
    ordering = ("-created_at", "-id")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            prefix, secret, digest = new_credential()
            obj.prefix, obj.secret_hash = prefix, digest
            super().save_model(request, obj, form, change)
            messages.warning(request, f"Secret for {obj}: {secret} — copy it now, it is not stored and will not be "
                                      "shown again.")
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected credentials")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} credential(s).")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: keeps who-used-what history


@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    list_display = ("name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "revoked_at")
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "scope", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # the scope is chosen when the key is created; widening it later would go unnoticed: issue a new key
        return fields + ("scope",) if obj is not None and "scope" not in fields else fields


@admin.register(AdminToken)
class AdminTokenAdmin(CredentialAdmin):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    search_fields = ("user__username", "name", "prefix")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            from django.contrib.auth import get_user_model

            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(CredentialAuditRecord)
class CredentialAuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "reason", "request_id")
    list_filter = ("action", "created_at")
    ordering = ("-created_at", "-id")
    search_fields = ("actor", "reason", "request_id")
