from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Issue 7: per-process memory and gc metrics, and the operator commands that run the tooling in ``tools/``
    (``metrics_consistency_check``, ``stress_*``)."""

    name = "cadml_site.observability"
    label = "cadml_observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from cadml_site.observability import process_stats

        process_stats.install()
