"""The admin site whose index page is the ops dashboard (Django's app list stays below it), and whose every
``ModelAdmin`` shows times in the operator's time zone with the UTC value on hover."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.safestring import mark_safe

from cadml_site.admin_base import OperatorTimeAdmin
from console.panels import dashboard_charts
from console.selectors import dashboard_state


class CadmlAdminSite(admin.AdminSite):
    site_header = "CAD ML Platform"
    site_title = "CAD ML Platform"
    index_title = "Operations console"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Registers ``admin_class`` (``ModelAdmin`` when None) with ``OperatorTimeAdmin`` mixed in: the apps' own
        admins, Django's (users, groups) and third-party ones (axes) alike."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, OperatorTimeAdmin):
            admin_class = type(admin_class.__name__, (OperatorTimeAdmin, admin_class),
                               {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__,
                                "__doc__": admin_class.__doc__})
        return super().register(model_or_iterable, admin_class, **options)

    def index(self, request, extra_context=None):
        state = dashboard_state(user=request.user)
        charts = {name: {"chart": chart, "svg": mark_safe(chart.svg)}  # built by charts.py, every value escaped
                  for name, chart in dashboard_charts(state, timezone.get_current_timezone()).items()}
        return super().index(request, {**(extra_context or {}), "dashboard": state, "charts": charts,
                                       "time_zone": timezone.get_current_timezone_name()})
