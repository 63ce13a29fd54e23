"""Admin base classes and the confirmation page that state-changing admin actions share."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse


class ReadOnlyAdmin(admin.ModelAdmin):
    """For audit and history tables: visible to staff, never added to, changed or deleted through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def user_permission(permission: str):
    """A ``has_<name>_permission`` method for the actions that declare ``permissions=["<name>"]``: the user must hold
    the Django permission ``permission`` (e.g. ``"modelops.reload_model"``), the same one the matching API operation
    requires (``required_permission``). Django then lists the action only for users who hold it and refuses a POST
    of it from anyone else. Roles: cadml_site/api/roles.py."""

    def check(self, request, obj=None) -> bool:
        return request.user.has_perm(permission)

    check.__name__ = f"has_{permission.split('.', 1)[1]}_permission"
    return check


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000,
                             help_text="Recorded in the audit trail.")


def reason_form(request) -> ReasonForm:
    """The reason form of a delete_selected-style action: bound once the confirmation page was posted."""
    return ReasonForm(request.POST if request.POST.get("post") else None)


def confirmation_page(modeladmin, request, queryset, *, template: str, form: ReasonForm, title: str, action: str,
                      **extra) -> TemplateResponse:
    """The page asking for a reason before an action runs; its form (``admin/action_confirmation_form.html``)
    posts the selection back to the same action. ``extra`` goes to the template as is."""
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, template, {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "queryset": queryset,
        "form": form,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        **extra,
    })
