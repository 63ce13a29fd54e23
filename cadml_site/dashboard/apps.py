from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class CadmlAdminConfig(AdminConfig):
    """Django's admin with ``CadmlAdminSite`` as the default site: its index is the ops dashboard."""

    default_site = "cadml_site.dashboard.site.CadmlAdminSite"


class DashboardConfig(AppConfig):
    """The dashboard's selectors, charts and template tags (``ops_time``)."""

    name = "cadml_site.dashboard"
    label = "cadml_dashboard"
    verbose_name = "Dashboard"
