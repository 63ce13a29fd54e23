from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "modelops"
    verbose_name = "Model operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cadml_site.health import register_health_section
        from cadml_site.metrics import register_gauge_source
        from cadml_site.process_state import register_process_initializer
        from modelops import checks  # noqa: F401 - registers the system checks
        from modelops.health import active_load_sequence_source, model_health_section
        from modelops.registry import holder
        from modelops.security import tripwire
        from modelops.services import DatabaseModelSource

        tripwire.install()
        holder.bind(DatabaseModelSource())
        register_process_initializer("modelops", holder.restart)
        register_health_section("model", model_health_section)
        register_gauge_source("model_active_load_sequence", active_load_sequence_source)
