from django.apps import AppConfig


class VectorsConfig(AppConfig):
    name = "vectors"
    verbose_name = "Vectors and similarity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cadml_site.health import register_health_section
        from cadml_site.metrics import register_gauge_source
        from cadml_site.process_state import register_process_initializer
        from vectors import selectors
        from vectors.health import vectors_health
        from vectors.runtime import index_holders

        register_process_initializer("vectors", index_holders.restart)
        register_health_section("vectors", vectors_health)
        register_gauge_source("faiss_degraded_duration_seconds",
                              lambda: [({}, selectors.degraded_duration_seconds())])
        register_gauge_source("faiss_flap_suppression_active",
                              lambda: [({}, 1.0 if selectors.flap_suppression_active() else 0.0)])
