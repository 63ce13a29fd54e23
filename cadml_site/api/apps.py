from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "cadml_site.api"
    label = "cadml_api"
    verbose_name = "API access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import cadml_site.celery  # noqa: F401  (the Celery app, before any task is sent)
        from cadml_site import after_response, checks  # noqa: F401  (checks: registers the system checks)
        from cadml_site.api import health_sections, login_throttle, schema  # noqa: F401  (schema: auth extension)

        health_sections.register()
        login_throttle.connect_signals()
        after_response.install()  # work a request hands off starts once its response has been sent
