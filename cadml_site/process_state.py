"""Per-process state: the initialisers run after fork in every gunicorn and Celery worker process, and
``ProcessLocal``, the one way a per-process runtime is held.

Apps register a function (load the Faiss index, the active model, the cache settings...) in ``AppConfig.ready()``.
gunicorn's ``post_fork`` hook and Celery's ``worker_process_init`` signal call ``run_process_initializers()``, so
nothing heavy is inherited across fork and every process converges on the database's truth on its own.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

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


# -- the one way to hold a per-process runtime ------------------------------------------------------------------

T = TypeVar("T")
_process_locals: dict[str, "ProcessLocal"] = {}


class ProcessLocal(Generic[T]):
    """One per-process runtime (the parse pool, the vector index holder, the feature cache, the active model).

    * **lazy start**: ``get()`` builds it on first use in this process (``build()``), then runs ``start(runtime)``
      (load what it serves, first convergence);
    * **after-fork reset**: a runtime built in another pid is never used (a forked child builds its own; the
      inherited one is dropped, not closed: its threads and child processes belong to the parent);
      ``restart()`` is the process initialiser gunicorn's ``post_fork`` and Celery's ``worker_process_init`` run;
    * **convergence on the database's truth**: ``converge_if_due()`` runs ``converge(runtime)`` at most once per
      ``converge_every`` seconds (the runtime compares its generation with the database's and catches up);
    * **exit and test reset**: ``reset()`` closes a runtime this process built (``close(runtime)``) and forgets
      it; ``reset_process_locals()`` does it for every one (tests, the process finalisers, interpreter exit).

    Every instance is registered by name, so the initialisers, the finalisers and the test reset reach all of them.
    """

    def __init__(
        self,
        name: str,
        *,
        build: Callable[[], T],
        start: Callable[[T], None] | None = None,
        close: Callable[[T], None] | None = None,
        converge: Callable[[T], None] | None = None,
        converge_every: float = 1.0,
    ) -> None:
        self.name = name
        self._build, self._start, self._close, self._converge = build, start, close, converge
        self.converge_every = converge_every
        self._lock = threading.RLock()
        self._runtime: T | None = None
        self._pid: int | None = None
        self._next_converge = 0.0
        with _lock:
            _process_locals[name] = self

    def _ours(self) -> bool:
        return self._runtime is not None and self._pid == os.getpid()

    def _adopt_after_fork(self) -> None:
        if self._pid is not None and self._pid != os.getpid():
            self._lock = threading.RLock()  # the parent's lock may have been held at fork
            self._runtime, self._pid, self._next_converge = None, None, 0.0

    def get(self) -> T:
        """This process's runtime, built and started on first use."""
        runtime = self._runtime
        if runtime is not None and self._pid == os.getpid():
            return runtime
        self._adopt_after_fork()
        with self._lock:
            if not self._ours():
                runtime = self._build()
                self._runtime, self._pid = runtime, os.getpid()
                self._next_converge = time.monotonic() + self.converge_every
                if self._start is not None:
                    self._start(runtime)
            return self._runtime

    def current(self) -> T | None:
        """The runtime if this process built one, else None (status pages must not start anything)."""
        return self._runtime if self._ours() else None

    def converge_if_due(self, *, force: bool = False) -> T:
        """``get()``, then ``converge(runtime)`` when the interval has passed (or ``force``)."""
        runtime = self.get()
        if self._converge is None:
            return runtime
        now = time.monotonic()
        if force or now >= self._next_converge:
            self._next_converge = now + self.converge_every
            self._converge(runtime)
        return runtime

    def reset(self) -> None:
        """Close (when built here) and forget the runtime; the next ``get()`` builds a fresh one."""
        self._adopt_after_fork()
        with self._lock:
            runtime, owned = self._runtime, self._ours()
            self._runtime, self._pid, self._next_converge = None, None, 0.0
        if owned and self._close is not None:
            self._close(runtime)

    def restart(self) -> None:
        """The process initialiser: a fresh runtime for this process, started now rather than at first use."""
        self.reset()
        self.get()


def process_local(name: str) -> ProcessLocal:
    return _process_locals[name]


def reset_process_locals() -> None:
    """Closes and forgets every per-process runtime (tests; process exit)."""
    with _lock:
        items = list(_process_locals.values())
    for item in items:
        try:
            item.reset()
        except Exception:
            logger.exception("Resetting %s failed in pid %s", item.name, os.getpid())


atexit.register(reset_process_locals)
