from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "modelops"
    verbose_name = "Model operations"

    def ready(self) -> None:
        from cadml_site.app_runtime import register_app_runtime
        from modelops import checks  # noqa: F401 - registers the system checks
        from modelops.health import active_load_sequence_source, model_health_section
        from modelops.registry import holder
        from modelops.security import tripwire
        from modelops.services import DatabaseModelSource

        tripwire.install()
        holder.bind(DatabaseModelSource())
        register_app_runtime(process=("modelops", holder.restart), health=("model", model_health_section),
                             gauges={"model_active_load_sequence": active_load_sequence_source})
