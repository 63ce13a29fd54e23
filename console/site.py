"""The admin site whose index page is the ops dashboard (Django's app list stays below it)."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.safestring import mark_safe

from console.panels import dashboard_charts
from console.selectors import dashboard_state


class CadmlAdminSite(admin.AdminSite):
    site_header = "CAD ML Platform"
    site_title = "CAD ML Platform"
    index_title = "Operations console"

    def index(self, request, extra_context=None):
        state = dashboard_state(user=request.user)
        charts = {name: {"chart": chart, "svg": mark_safe(chart.svg)}  # built by charts.py, every value escaped
                  for name, chart in dashboard_charts(state, timezone.get_current_timezone()).items()}
        return super().index(request, {**(extra_context or {}), "dashboard": state, "charts": charts,
                                       "time_zone": timezone.get_current_timezone_name()})
