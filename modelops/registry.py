"""Process-local holder of the active model.

Requests read ``holder.active()`` (the process's runtime, then one attribute: never a lock), so inference never
waits on a reload. A new model is installed by replacing that reference in one assignment (atomic swap). The
runtime is held in a ``cadml_site.process_state.ProcessLocal``: a forked process never serves its parent's
model, and the process initialiser (``holder.restart``, registered in ``ModelopsConfig.ready()``) loads the
active model before the process serves. Every process converges on the database's active version:
``refresh_if_stale`` compares the database's load sequence with the held one at most once per interval and,
when they differ, loads in a background thread while requests keep using the current model. A process that
cannot load the active version keeps the model it has and records the error for the health section.

The holder reaches the database through a ``ModelSource`` (``modelops.services.convergence.DatabaseModelSource``,
bound in ``ready()``), so it imports no service.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cadml_site.process_state import ProcessLocal

logger = logging.getLogger("cadml.modelops")


@dataclass(frozen=True)
class ActiveModel:
    version_id: int
    label: str
    sha256: str
    feature_version: str
    n_features: int
    classes: tuple
    has_proba: bool
    model: object = field(repr=False)
    label_from_proba: bool = False  # predict == classes_[argmax(predict_proba)] for this estimator
    sequence: int = 0
    loaded_at: datetime | None = None


class ModelSource(Protocol):
    def load_sequence(self) -> int:
        """The database's load sequence (one small query)."""

    def sync(self) -> None:
        """Converge this process's holder on the database's active version (blocking; keeps the current model
        when the active one cannot be loaded)."""

    def release_connection(self) -> None:
        """Closes the calling thread's database connection."""


class ModelRuntime:
    """What one process serves: the active model, the load sequence it converged on, its last load error."""

    def __init__(self) -> None:
        self.active: ActiveModel | None = None
        self.sequence = 0            # database load sequence this process has converged on
        self.error: dict | None = None
        self.load_lock = threading.Lock()


class ModelHolder:
    def __init__(self, name: str = "modelops.model") -> None:
        self._source: ModelSource | None = None
        self.process_local: ProcessLocal[ModelRuntime] = ProcessLocal(name, build=ModelRuntime,
                                                                      converge=self._check)

    def bind(self, source: ModelSource) -> None:
        self._source = source

    def _bound(self) -> ModelSource:
        if self._source is None:
            raise RuntimeError("the model holder has no source: ModelopsConfig.ready() binds it")
        return self._source

    # -- reads (hot path) ------------------------------------------------------------------------------
    def active(self) -> ActiveModel | None:
        return self.process_local.get().active

    @property
    def sequence(self) -> int:
        return self.process_local.get().sequence

    @property
    def error(self) -> dict | None:
        return self.process_local.get().error

    def loading(self) -> bool:
        """A load (convergence or start) is running in this process."""
        return self.process_local.get().load_lock.locked()

    # -- writes ----------------------------------------------------------------------------------------
    def install(self, active: ActiveModel | None, *, sequence: int) -> None:
        runtime = self.process_local.get()
        runtime.active = active  # the atomic swap
        runtime.sequence = sequence
        runtime.error = None

    def note_error(self, *, sequence: int, version: str, code: str, message: str) -> None:
        """The active version of ``sequence`` could not be loaded here; keep serving the current model."""
        runtime = self.process_local.get()
        runtime.sequence = sequence
        runtime.error = {"sequence": sequence, "version": version, "code": code, "message": message[:500],
                         "at": time.time()}

    # -- convergence -----------------------------------------------------------------------------------
    def refresh_if_stale(self, *, interval: float) -> None:
        """Cheap per-request check (at most one small query per ``interval``); never blocks the caller on a load.
        A new interval takes effect at once (the first call, or a changed setting, checks now)."""
        local = self.process_local
        changed = interval != local.converge_every
        local.converge_every = interval
        local.converge_if_due(force=changed)

    def _check(self, runtime: ModelRuntime) -> None:
        source = self._bound()
        if source.load_sequence() == runtime.sequence:
            return
        if not runtime.load_lock.acquire(blocking=False):
            return  # a load is already running

        def run():
            try:
                source.sync()
            except Exception:  # noqa: BLE001 - a background load must never kill the process
                logger.exception("background model load failed")
            finally:
                runtime.load_lock.release()
                source.release_connection()  # the thread's own connection

        threading.Thread(target=run, name="model-sync", daemon=True).start()

    def sync_now(self) -> None:
        """Blocking convergence (process start, tests)."""
        source = self._bound()
        with self.process_local.get().load_lock:
            source.sync()

    # -- lifecycle -------------------------------------------------------------------------------------
    def restart(self) -> None:
        """The process initialiser (after fork, in every web and Celery worker): a fresh runtime, loaded with the
        active model before the process serves."""
        self.process_local.restart()
        try:
            self.sync_now()
        finally:
            self._bound().release_connection()

    def reset(self) -> None:
        """Forget this process's model (tests: a fresh process that has loaded nothing and checked nothing)."""
        self.process_local.reset()


holder = ModelHolder()
