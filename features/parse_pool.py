"""This process's parse pool, held by ``cadml_site.process_state.ProcessLocal``: one warm pool per process.

Built from settings on first use or by the process initialiser (gunicorn ``post_fork``, Celery
``worker_process_init``: the ``restart`` registered in ``FeaturesConfig.ready()``), so the first upload does not
wait for the workers. A forked child never reuses its parent's workers (it builds its own); closing the pool
(process finaliser, interpreter exit, test reset) stops its workers.
"""

from __future__ import annotations

from django.conf import settings

from cadml_site.process_state import ProcessLocal
from features.parse_workers.pool import ParsePool


def _build() -> ParsePool:
    return ParsePool(
        workers=settings.CADML_PARSE_WORKERS,
        memory_limit_bytes=settings.CADML_PARSE_MEMORY_LIMIT_BYTES,
        timeout_seconds=settings.CADML_PARSE_TIMEOUT_SECONDS,
        parser_options={
            "entity_budget": settings.CADML_DXF_ENTITY_BUDGET,
            "max_depth": settings.CADML_DXF_MAX_BLOCK_DEPTH,
        },
    )


def _start(pool: ParsePool) -> None:
    pool.start(wait=False)  # the workers start in the background; the first task waits for its worker only


def _close(pool: ParsePool) -> None:
    pool.shutdown()


parse_pools = ProcessLocal("features.parse_pool", build=_build, start=_start, close=_close)


def get_parse_pool() -> ParsePool:
    """This process's pool (built and started on first use)."""
    return parse_pools.get()


def parse_pool_status() -> dict | None:
    """The pool's status, or None when this process has not started one (a status page starts nothing)."""
    pool = parse_pools.current()
    return None if pool is None else pool.status()
