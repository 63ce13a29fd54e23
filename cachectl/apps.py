from django.apps import AppConfig


class CachectlConfig(AppConfig):
    name = "cachectl"
    verbose_name = "Feature cache controls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cachectl.cache_source import DatabaseCacheSource
        from cachectl.health import cache_health_section, rollback_window_age_source, rollback_window_limit_source
        from cachectl.holder import holder
        from cadml_site.health import register_health_section
        from cadml_site.metrics import register_gauge_source
        from cadml_site.process_state import register_process_initializer

        holder.bind(DatabaseCacheSource())
        register_process_initializer("cachectl", holder.restart)
        register_health_section("cache", cache_health_section)
        register_gauge_source("feature_cache_rollback_window_age_seconds", rollback_window_age_source)
        register_gauge_source("feature_cache_rollback_window_limit_seconds", rollback_window_limit_source)
