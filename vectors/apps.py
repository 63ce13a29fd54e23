from django.apps import AppConfig


class VectorsConfig(AppConfig):
    name = "vectors"
    verbose_name = "Vectors and similarity"
    default_auto_field = "django.db.models.BigAutoField"
