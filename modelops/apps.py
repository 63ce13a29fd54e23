from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "modelops"
    verbose_name = "Model operations"
    default_auto_field = "django.db.models.BigAutoField"
