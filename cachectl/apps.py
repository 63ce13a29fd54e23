from django.apps import AppConfig


class CachectlConfig(AppConfig):
    name = "cachectl"
    verbose_name = "Feature cache controls"
    default_auto_field = "django.db.models.BigAutoField"
