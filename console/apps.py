from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class CadmlAdminConfig(AdminConfig):
    """Django's admin with ``CadmlAdminSite`` as the default site: its index is the ops dashboard."""

    default_site = "console.site.CadmlAdminSite"


class ConsoleConfig(AppConfig):
    """The operations console: the dashboard's selectors, charts and template tags (``ops_time``).

    It reads the state of vectors, modelops and cachectl, so it sits above them, never in ``cadml_site``."""

    name = "console"
    verbose_name = "Operations console"
