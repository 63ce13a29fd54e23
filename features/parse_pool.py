"""This process's parse runner, held by ``cadml_site.process_state.ProcessLocal``: the host's parse service when
``CADML_PARSE_SERVICE_SOCKET`` is set (one pool per host, `features.parse_service`), else one warm in-process
`ParsePool` per process (runserver, tests, the embedded default).

Built from settings on first use or by the process initialiser (gunicorn ``post_fork``, Celery
``worker_process_init``: the ``restart`` registered in ``FeaturesConfig.ready()``), so the first upload does not
wait for the workers. A forked child never reuses its parent's workers (it builds its own); closing the pool
(process finaliser, interpreter exit, test reset) stops its workers (a service client owns none).

The service itself is kept answering by a `ParseServiceSupervisor`: gunicorn's master runs one
(``gunicorn.conf.py``), and so does a Celery worker's main process when no service answers on its host
(``start_host_parse_service`` on ``worker_ready``).
"""

from __future__ import annotations

import logging

from django.conf import settings

from cadml_site.process_state import ProcessLocal
from features.parse_service.client import ParseServiceClient
from features.parse_service.supervisor import ParseServiceSupervisor
from features.parse_workers.pool import ParsePool

logger = logging.getLogger("cadml.parse_service")


def _parser_options() -> dict:
    return {"entity_budget": settings.CADML_DXF_ENTITY_BUDGET, "max_depth": settings.CADML_DXF_MAX_BLOCK_DEPTH}


def _pool_limits() -> dict:
    """The limits of a pool, in process or in the host's service (spelled once: both read them here)."""
    return {"workers": settings.CADML_PARSE_WORKERS, "memory_limit_bytes": settings.CADML_PARSE_MEMORY_LIMIT_BYTES,
            "timeout_seconds": settings.CADML_PARSE_TIMEOUT_SECONDS}


def _build() -> ParsePool | ParseServiceClient:
    if settings.CADML_PARSE_SERVICE_SOCKET:
        return ParseServiceClient(settings.CADML_PARSE_SERVICE_SOCKET,
                                  timeout_seconds=settings.CADML_PARSE_TIMEOUT_SECONDS)
    return ParsePool(**_pool_limits(), parser_options=_parser_options())


def _start(runner: ParsePool | ParseServiceClient) -> None:
    if isinstance(runner, ParsePool):
        runner.start(wait=False)  # the workers start in the background; the first task waits for its worker only


def _close(runner: ParsePool | ParseServiceClient) -> None:
    runner.shutdown()


parse_pools = ProcessLocal("features.parse_pool", build=_build, start=_start, close=_close)


def get_parse_pool() -> ParsePool | ParseServiceClient:
    """This process's parse runner (built on first use): ``parse``, ``render``, ``status``."""
    return parse_pools.get()


def parse_pool_status() -> dict | None:
    """The pool's status, or None when this process has not started one (a status page starts nothing)."""
    pool = parse_pools.current()
    return None if pool is None else pool.status()


# -- the host's service ------------------------------------------------------------------------------------------

def parse_service_supervisor() -> ParseServiceSupervisor:
    """A supervisor of the service on ``CADML_PARSE_SERVICE_SOCKET``, with the pool limits of the settings."""
    limits = {**_pool_limits(), **_parser_options(), "max_data_bytes": settings.CADML_UPLOAD_MAX_BYTES}
    args = [part for name, value in limits.items() for part in ("--" + name.replace("_", "-"), str(value))]
    return ParseServiceSupervisor(settings.CADML_PARSE_SERVICE_SOCKET, service_args=args)


_host_supervisor: ParseServiceSupervisor | None = None


def start_host_parse_service() -> dict | None:
    """In a gunicorn master or a Celery worker's main process, before (or while) its workers fork: keep a service
    answering on the configured socket (adopting one that already does). None when no socket is configured."""
    global _host_supervisor
    if not settings.CADML_PARSE_SERVICE_SOCKET:
        return None
    if _host_supervisor is None:
        _host_supervisor = parse_service_supervisor()
    status = _host_supervisor.start()
    logger.info("parse service on %s: pid %s (%s)", settings.CADML_PARSE_SERVICE_SOCKET, status.get("service_pid"),
                "started here" if _host_supervisor.child_pid == status.get("service_pid") else "already running")
    return status


def stop_host_parse_service() -> None:
    """Stops the supervisor and the service it started (a service it adopted keeps running for its owner)."""
    global _host_supervisor
    if _host_supervisor is not None:
        _host_supervisor.stop()
        _host_supervisor = None

