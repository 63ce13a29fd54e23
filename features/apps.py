from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "features"
    verbose_name = "CAD features"

    def ready(self) -> None:
        from celery.signals import worker_ready, worker_shutdown

        from cadml_site.app_runtime import register_app_runtime
        from cadml_site.process_state import register_process_finalizer
        from features.health import parser_pool_health
        from features.parse_pool import parse_pools
        from features.thumbnail_runner import thumbnail_runners

        # The embedded thumbnail runner drains first (finalisers run in registration order): its renders need the
        # parse pool. It has no initialiser: its thread starts with the first render in each process.
        register_process_finalizer("features.thumbnail_runner", thumbnail_runners.reset)
        register_app_runtime(process=("features.parse_pool", parse_pools.restart), finalizer=parse_pools.reset,
                             health=("parser_pool", parser_pool_health))
        # A Celery worker's main process: use the host's parse service, or start one when none answers
        # (CADML_PARSE_SERVICE_SOCKET set; without it every pool process keeps its own pool).
        worker_ready.connect(_start_parse_service, weak=False, dispatch_uid="features.parse_service.start")
        worker_shutdown.connect(_stop_parse_service, weak=False, dispatch_uid="features.parse_service.stop")


def _start_parse_service(**_kwargs) -> None:
    from features.parse_pool import start_host_parse_service

    start_host_parse_service()


def _stop_parse_service(**_kwargs) -> None:
    from features.parse_pool import stop_host_parse_service

    stop_host_parse_service()
