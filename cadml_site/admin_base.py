"""Admin base classes, the operator-time display every admin page shares, and the confirmation page that
state-changing admin actions share."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db import models
from django.template.response import TemplateResponse

from cadml_site.operator_time import operator_time


def _time_display(field: models.DateTimeField):
    """A column / read-only field showing ``field`` as ``operator_time`` (sorted by the field itself)."""

    @admin.display(description=field.verbose_name, ordering=field.name)
    def display(obj):
        value = getattr(obj, field.attname)
        return None if value is None else operator_time(value)  # None: the admin's empty value

    display.__name__ = field.name  # the column's and the field's CSS class stay ``field-<name>``
    return display


class OperatorTimeAdmin(admin.ModelAdmin):
    """Shows every date-time column of the change list and every date-time read-only field of the change page
    in the operator's time zone with the UTC value on hover (``cadml_site.operator_time``); sorting by such a
    column still sorts by the field. The console's admin site (``console.site``) mixes it into every
    ``ModelAdmin`` registered, so app admins need do nothing."""

    def _time_fields(self) -> dict:
        cached = self.__dict__.get("_operator_time_fields")
        if cached is None:  # one display per field and admin: Django matches fieldsets and readonly_fields by identity
            cached = {f.name: _time_display(f) for f in self.model._meta.concrete_fields
                      if isinstance(f, models.DateTimeField)}
            self.__dict__["_operator_time_fields"] = cached
        return cached

    def _timed(self, names, shown: set[str] | None = None) -> list:
        times = self._time_fields()
        out = []
        for name in names:
            if isinstance(name, (list, tuple)):  # several fields on one line of a fieldset
                item = tuple(self._timed(name, shown))
            elif isinstance(name, str) and name in times and (shown is None or name in shown):
                item = times[name]
            else:
                item = name
            if item not in out:
                out.append(item)
        return out

    def get_list_display(self, request):
        editable = set(self.list_editable or ())
        return self._timed(super().get_list_display(request), shown=set(self._time_fields()) - editable)

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._timed(links) if links else links

    def _view_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def _read_only_times(self, request, obj) -> set[str]:
        """The date-time fields this page shows read-only: those named read-only, and on a view-only page every
        one not excluded (``created_at`` included, which a form never holds)."""
        times = self._time_fields()
        named = {n for n in super().get_readonly_fields(request, obj) if isinstance(n, str) and n in times}
        if self._view_only(request, obj):
            excluded = set(self.get_exclude(request, obj) or ())
            named |= {n for n in times if n not in excluded}
        return named

    def get_readonly_fields(self, request, obj=None):
        shown = self._read_only_times(request, obj)
        fields = self._timed(super().get_readonly_fields(request, obj), shown)
        times = self._time_fields()
        return [*fields, *(times[n] for n in sorted(shown) if times[n] not in fields)]

    def get_fieldsets(self, request, obj=None):
        shown = self._read_only_times(request, obj)
        return [(name, {**options, "fields": self._timed(options.get("fields", ()), shown)})
                for name, options in super().get_fieldsets(request, obj)]


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
