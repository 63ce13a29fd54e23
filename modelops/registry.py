"""Process-local holder of the active model.

Requests read ``holder.active()`` — one attribute read, never a lock — so inference never waits on a
reload. A new model is installed by replacing that reference in one assignment (atomic swap). Every
process converges on the database's active version: ``maybe_refresh`` compares the database's load
sequence with the held one at most once per interval and, when they differ, loads in a background thread
while requests keep using the current model. A process that cannot load the active version keeps the
model it has and records the error for the health section.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

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


class ModelHolder:
    def __init__(self) -> None:
        self._active: ActiveModel | None = None
        self._sequence = 0            # database load sequence this process has converged on
        self._load_lock = threading.Lock()
        self._last_check = 0.0
        self._error: dict | None = None

    # -- reads (hot path) ------------------------------------------------------------------------------
    def active(self) -> ActiveModel | None:
        return self._active

    @property
    def sequence(self) -> int:
        return self._sequence

    @property
    def error(self) -> dict | None:
        return self._error

    # -- writes ----------------------------------------------------------------------------------------
    def install(self, active: ActiveModel | None, *, sequence: int) -> None:
        self._active = active  # the atomic swap
        self._sequence = sequence
        self._error = None

    def note_error(self, *, sequence: int, version: str, code: str, message: str) -> None:
        """The active version of ``sequence`` could not be loaded here; keep serving the current model."""
        self._sequence = sequence
        self._error = {"sequence": sequence, "version": version, "code": code, "message": message[:500],
                       "at": time.time()}

    def maybe_refresh(self, *, interval: float, read_sequence: Callable[[], int],
                      load: Callable[[], None]) -> None:
        """Cheap per-request check; never blocks the caller on a load."""
        now = time.monotonic()
        if now - self._last_check < interval:
            return
        self._last_check = now
        if read_sequence() == self._sequence:
            return
        if not self._load_lock.acquire(blocking=False):
            return  # a load is already running

        def run():
            try:
                load()
            except Exception:  # noqa: BLE001 - a background load must never kill the process
                logger.exception("background model load failed")
            finally:
                self._load_lock.release()

        threading.Thread(target=run, name="model-sync", daemon=True).start()

    def sync_now(self, load: Callable[[], None]) -> None:
        """Blocking convergence (process start, tests)."""
        with self._load_lock:
            load()

    def reset_after_fork(self) -> None:
        self._load_lock = threading.Lock()
        self._last_check = 0.0


holder = ModelHolder()
