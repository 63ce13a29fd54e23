from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "features"
    verbose_name = "CAD features"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cadml_site.health import register_health_section
        from cadml_site.process_state import register_process_finalizer, register_process_initializer
        from features.health import parser_pool_health
        from features.parse_pool import parse_pools

        register_health_section("parser_pool", parser_pool_health)
        register_process_initializer("features.parse_pool", parse_pools.restart)
        register_process_finalizer("features.parse_pool", parse_pools.reset)
