"""Per-process initialisers, run after fork in every gunicorn and Celery worker process.

Apps register a function (load the Faiss index, the active model, the cache settings...) in ``AppConfig.ready()``.
gunicorn's ``post_fork`` hook and Celery's ``worker_process_init`` signal call ``run_process_initializers()``, so
nothing heavy is inherited across fork and every process converges on the database's truth on its own.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable

logger = logging.getLogger("cadml.process")

_initializers: dict[str, Callable[[], None]] = {}
_finalizers: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()
_ran_in_pid: int | None = None
_last_results: dict[str, str] = {}


def register_process_initializer(name: str, fn: Callable[[], None]) -> None:
    with _lock:
        _initializers[name] = fn


def run_process_initializers() -> dict[str, str]:
    """Runs every initialiser once in this process; one failing does not stop the others."""
    global _ran_in_pid
    results: dict[str, str] = {}
    with _lock:
        items = list(_initializers.items())
        _ran_in_pid = os.getpid()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name, fn in items:
        try:
            fn()
            results[name] = "ok"
        except Exception as exc:
            logger.exception("Process initialiser %s failed in pid %s", name, os.getpid())
            results[name] = f"error: {type(exc).__name__}: {exc}"
    _last_results.clear()
    _last_results.update(results)
    return results


def initializer_results() -> dict[str, str]:
    """What each initialiser reported when they last ran in this process (empty if they never ran here)."""
    return dict(_last_results) if initialised_in_this_process() else {}


def register_process_finalizer(name: str, fn: Callable[[], None]) -> None:
    """Runs when a worker process stops (gunicorn ``worker_exit``, Celery ``worker_process_shutdown``)."""
    with _lock:
        _finalizers[name] = fn


def run_process_finalizers() -> None:
    with _lock:
        items = list(_finalizers.items())
    for name, fn in items:
        try:
            fn()
        except Exception:
            logger.exception("Process finaliser %s failed in pid %s", name, os.getpid())


def initialised_in_this_process() -> bool:
    return _ran_in_pid == os.getpid()


def freeze_startup_heap() -> int:
    """After the initialisers: collect once, then move every object this process holds (imported code,
    settings, the loaded index and model) to the permanent generation, so that later full collections walk
    only what came after. Without it a full collection in a worker holding a 10 MB model took 130-143 ms,
    a stall for whichever request triggered it; with it 0.5-0.7 ms (docs/benchmarks.md). Frozen objects are
    still freed by reference counting; only cyclic garbage created before the freeze would stay, and the
    collection just before removes what exists then. Returns the number of frozen objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
