"""The process-local cache holder: one feature cache per web or Celery worker process (Django-free).

The holder keeps this process's ``FeatureCache`` (and the shared Redis tier client) in a
``cadml_site.process_state.ProcessLocal``: built on first use, never inherited across fork, restarted by the
process initialiser (gunicorn ``post_fork``, Celery ``worker_process_init``). It talks to the database through a
``CacheSource`` (``cachectl.cache_source.DatabaseCacheSource``, bound in ``CachectlConfig.ready()``) and
converges on it at most once per ``CHECK_INTERVAL_SECONDS``, on access:

* a new settings ``generation`` is applied to the live cache (``FeatureCache.reconfigure``);
* a new prewarm run (``prewarm_generation``; in a new process, the latest one) is replayed from the stored
  features, in a background thread so no request waits for it;
* this process's hits and lookups per key since the last flush (prewarm's "recent hits" and "high-frequency"
  tiers) are flushed at most every ``ACTIVITY_FLUSH_SECONDS``, never inside a caller's transaction.

Settings the source cannot read never break a lookup: the cache keeps its current settings (the environment
defaults in a new process) and retries at the next interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from cachectl.core import FeatureCache
from cachectl.shared_tier import RedisFeatureTier
from cadml_site.process_state import ProcessLocal

logger = logging.getLogger("cadml.cachectl")

CHECK_INTERVAL_SECONDS = 1.0
ACTIVITY_FLUSH_SECONDS = 10.0


@dataclass(frozen=True)
class CacheSettingsState:
    """The settings every process converges on, with the generations that say when they changed."""

    capacity: int
    ttl_seconds: int
    policy: str
    generation: int
    prewarm_generation: int

    def settings_dict(self) -> dict:
        return {"capacity": self.capacity, "ttl_seconds": self.ttl_seconds, "policy": self.policy}


class SettingsUnreadable(Exception):
    """The source could not read the settings (a database error); the message names the cause."""


class CacheSource(Protocol):
    def settings_state(self) -> CacheSettingsState:
        """The stored settings; raises ``SettingsUnreadable`` when they cannot be read."""

    def default_settings(self) -> CacheSettingsState:
        """The environment's settings (what a new process uses while the stored ones cannot be read)."""

    def shared_tier_url(self) -> str | None: ...

    def may_flush_activity(self) -> bool:
        """False inside a caller's transaction (the flush's row locks would be held until it ends)."""

    def record_activity(self, activity: dict[Hashable, tuple[int, int]]) -> int:
        """Stores one flush of key activity; returns the keys recorded (0 when it could not)."""

    def replay_prewarm(self, generation: int) -> None: ...

    def end_thread(self) -> None:
        """Releases what a background thread of the holder held (its database connections)."""


class CacheRuntime:
    """This process's cache, shared tier client, converged generations and statistics."""

    def __init__(self, source: CacheSource) -> None:
        self.source = source
        self.lock = threading.RLock()
        self.cache: FeatureCache | None = None
        self.shared: RedisFeatureTier | None = None
        self.shared_url: str | None = None
        self.generation: int | None = None
        self.prewarm_generation: int | None = None
        self.next_flush = time.monotonic() + ACTIVITY_FLUSH_SECONDS
        self.last_sync_error = ""
        self.shared_hits = 0
        self.replay_thread: threading.Thread | None = None

    def shared_tier(self) -> RedisFeatureTier | None:
        url = self.source.shared_tier_url()
        if not url:
            return None
        if self.shared is None or self.shared_url != url:
            with self.lock:
                if self.shared is None or self.shared_url != url:
                    self.shared, self.shared_url = RedisFeatureTier(url), url
        return self.shared

    def count_shared_hit(self) -> None:
        with self.lock:
            self.shared_hits += 1

    def sync(self, *, replay_in_background: bool = True) -> None:
        """Converge on the source: settings generation, prewarm generation, key activity flush."""
        with self.lock:
            try:
                state = self.source.settings_state()
            except SettingsUnreadable as exc:
                self.last_sync_error = str(exc)
                logger.warning("Cache settings could not be read; keeping the current ones: %s", exc)
                if self.cache is None:
                    defaults = self.source.default_settings()
                    self.cache = FeatureCache(capacity=defaults.capacity, ttl_seconds=defaults.ttl_seconds,
                                              policy=defaults.policy)
                return
            self.last_sync_error = ""
            if self.cache is None:
                self.cache = FeatureCache(capacity=state.capacity, ttl_seconds=state.ttl_seconds,
                                          policy=state.policy)
            elif state.generation != self.generation:
                self.cache.reconfigure(capacity=state.capacity, ttl_seconds=state.ttl_seconds,
                                       policy=state.policy)
                logger.info("Cache settings generation %s applied in pid %s: %s", state.generation,
                            os.getpid(), state)
            self.generation = state.generation
            replay = None
            if self.prewarm_generation is None:
                # a new process (worker start, recycle, restart) replays the latest prewarm run too
                self.prewarm_generation = state.prewarm_generation
                replay = state.prewarm_generation or None
            elif state.prewarm_generation != self.prewarm_generation:
                self.prewarm_generation = state.prewarm_generation
                replay = state.prewarm_generation
            now = time.monotonic()
            if now >= self.next_flush and self.source.may_flush_activity():
                self.next_flush = now + ACTIVITY_FLUSH_SECONDS
                self.flush_key_activity()
        if replay is not None:
            self.start_replay(replay, background=replay_in_background)

    def mark_prewarm_seen(self, generation: int) -> None:
        with self.lock:
            if self.prewarm_generation is None or generation > self.prewarm_generation:
                self.prewarm_generation = generation

    def flush_key_activity(self) -> int:
        cache = self.cache
        if cache is None:
            return 0
        activity = cache.drain_activity()
        if not activity:
            return 0
        return self.source.record_activity(activity)

    def start_replay(self, generation: int, *, background: bool) -> None:
        if not background:
            self.source.replay_prewarm(generation)
            return

        def run() -> None:
            try:
                self.source.replay_prewarm(generation)
            except Exception:
                logger.exception("Prewarm replay of generation %s failed in pid %s", generation, os.getpid())
            finally:
                self.source.end_thread()

        thread = threading.Thread(target=run, name=f"cachectl-prewarm-{generation}", daemon=True)
        self.replay_thread = thread
        thread.start()

    def wait_for_replay(self, timeout: float | None = None) -> None:
        thread = self.replay_thread
        if thread is not None:
            thread.join(timeout)


class CacheHolder:
    """The one way to reach this process's cache runtime; ``bind`` gives it its source before first use."""

    def __init__(self, name: str = "cachectl.cache") -> None:
        self._source: CacheSource | None = None
        self.process_local: ProcessLocal[CacheRuntime] = ProcessLocal(
            name, build=self._build, start=CacheRuntime.sync, converge=CacheRuntime.sync,
            converge_every=CHECK_INTERVAL_SECONDS)

    def bind(self, source: CacheSource) -> None:
        self._source = source

    def _build(self) -> CacheRuntime:
        if self._source is None:
            raise RuntimeError("the cache holder has no source: CachectlConfig.ready() binds it")
        return CacheRuntime(self._source)

    # -- access -----------------------------------------------------------------------------------
    def runtime(self) -> CacheRuntime:
        """This process's runtime, converged on the source at most once per check interval."""
        return self.process_local.converge_if_due()

    def cache(self) -> FeatureCache:
        return self.runtime().cache

    def shared_tier(self) -> RedisFeatureTier | None:
        return self.process_local.get().shared_tier()

    def count_shared_hit(self) -> None:
        self.process_local.get().count_shared_hit()

    # -- what this process has converged on (nothing is started to answer) ----------------------------
    @property
    def generation(self) -> int | None:
        runtime = self.process_local.current()
        return runtime.generation if runtime is not None else None

    @property
    def prewarm_generation(self) -> int | None:
        runtime = self.process_local.current()
        return runtime.prewarm_generation if runtime is not None else None

    @property
    def last_sync_error(self) -> str:
        runtime = self.process_local.current()
        return runtime.last_sync_error if runtime is not None else ""

    @property
    def shared_hits(self) -> int:
        runtime = self.process_local.current()
        return runtime.shared_hits if runtime is not None else 0

    # -- convergence ------------------------------------------------------------------------------
    def sync(self) -> None:
        """Converge now (a settings change committed by this process applies here at once)."""
        self.process_local.converge_if_due(force=True)

    def mark_prewarm_seen(self, generation: int) -> None:
        """The process that ran a prewarm already loaded it: it must not replay it."""
        self.process_local.get().mark_prewarm_seen(generation)

    def flush_key_activity(self) -> int:
        runtime = self.process_local.current()
        return runtime.flush_key_activity() if runtime is not None else 0

    def wait_for_replay(self, timeout: float | None = None) -> None:
        runtime = self.process_local.current()
        if runtime is not None:
            runtime.wait_for_replay(timeout)

    # -- lifecycle --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget this process's cache (a simulated new process in tests); the next access builds one."""
        self.process_local.reset()

    def restart(self) -> None:
        """The process initialiser: a fresh cache converged on the source now, not at the first lookup."""
        self.process_local.restart()


holder = CacheHolder()
