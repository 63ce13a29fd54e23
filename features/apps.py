from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "features"
    verbose_name = "CAD features"

    def ready(self) -> None:
        from cadml_site.app_runtime import register_app_runtime
        from features.health import parser_pool_health
        from features.parse_pool import parse_pools

        register_app_runtime(process=("features.parse_pool", parse_pools.restart), finalizer=parse_pools.reset,
                             health=("parser_pool", parser_pool_health))
