from django.apps import AppConfig


class VectorsConfig(AppConfig):
    name = "vectors"
    verbose_name = "Vectors and similarity"

    def ready(self) -> None:
        from cadml_site.app_runtime import register_app_runtime
        from vectors import selectors
        from vectors.health import vectors_health
        from vectors.runtime import index_holders

        register_app_runtime(process=("vectors", index_holders.restart), health=("vectors", vectors_health), gauges={
            "faiss_degraded_duration_seconds": lambda: [({}, selectors.degraded_duration_seconds())],
            "faiss_flap_suppression_active": lambda: [({}, 1.0 if selectors.flap_suppression_active() else 0.0)],
        })
