"""The process-local parse pool holder: one warm pool per process, started lazily or after fork.

`get_parse_pool()` builds the pool from settings on first use (or from the per-process initialiser that
gunicorn's post_fork and Celery's worker_process_init run), remembers the pid that owns it so a forked child
never reuses its parent's workers, and shuts it down at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import threading

from django.conf import settings

from features.parsers.pool import ParsePool

_lock = threading.Lock()
_pool: ParsePool | None = None
_pool_pid: int | None = None


def get_parse_pool() -> ParsePool:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            pool = ParsePool(
                workers=settings.CADML_PARSE_WORKERS,
                memory_limit_bytes=settings.CADML_PARSE_MEMORY_LIMIT_BYTES,
                timeout_seconds=settings.CADML_PARSE_TIMEOUT_SECONDS,
                parser_options={
                    "entity_budget": settings.CADML_DXF_ENTITY_BUDGET,
                    "max_depth": settings.CADML_DXF_MAX_BLOCK_DEPTH,
                },
            )
            pool.start(wait=False)
            _pool, _pool_pid = pool, os.getpid()
        return _pool


def start_parse_pool() -> None:
    """Per-process initialiser: start the workers now so the first upload does not wait for them."""
    get_parse_pool()


def shutdown_parse_pool() -> None:
    global _pool, _pool_pid
    with _lock:
        pool, owner = _pool, _pool_pid
        _pool, _pool_pid = None, None
    if pool is not None and owner == os.getpid():
        pool.shutdown()


def parse_pool_status() -> dict | None:
    with _lock:
        pool = _pool if _pool_pid == os.getpid() else None
    return None if pool is None else pool.status()


atexit.register(shutdown_parse_pool)
