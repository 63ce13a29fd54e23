from django.apps import AppConfig


class CachectlConfig(AppConfig):
    name = "cachectl"
    verbose_name = "Feature cache controls"

    def ready(self) -> None:
        from cachectl.cache_source import DatabaseCacheSource
        from cachectl.health import cache_health_section, rollback_window_age_source, rollback_window_limit_source
        from cachectl.holder import holder
        from cadml_site.app_runtime import register_app_runtime

        holder.bind(DatabaseCacheSource())
        register_app_runtime(process=("cachectl", holder.restart), health=("cache", cache_health_section), gauges={
            "feature_cache_rollback_window_age_seconds": rollback_window_age_source,
            "feature_cache_rollback_window_limit_seconds": rollback_window_limit_source,
        })
