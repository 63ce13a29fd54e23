"""The process-local cache holder: one per web or Celery worker process.

It owns this process's `FeatureCache` (and the shared Redis tier client) and converges on the database:
on access, at most once per ``CHECK_INTERVAL_SECONDS``, it reads the settings row (one indexed query) and

* applies a new settings ``generation`` to the live cache (``FeatureCache.reconfigure``);
* replays a new prewarm run (``prewarm_generation``; in a new process, the latest one) from the stored
  features, in a background thread so no request waits for it;
* flushes this process's hits and lookups per key since the last flush (prewarm's "recent hits" and
  "high-frequency" tiers), at most every ``ACTIVITY_FLUSH_SECONDS``, never inside a caller's transaction.

After fork (gunicorn ``post_fork``, Celery ``worker_process_init``) ``reset_after_fork`` drops what was
inherited and syncs again, so every process starts from the database's truth with its own statistics.
A database error never breaks a lookup: the cache keeps its current settings and retries next interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.transaction import TransactionManagementError

from cachectl.core import FeatureCache
from cachectl.shared_tier import RedisFeatureTier

logger = logging.getLogger("cadml.cachectl")

CHECK_INTERVAL_SECONDS = 1.0
ACTIVITY_FLUSH_SECONDS = 10.0


class CacheHolder:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._cache: FeatureCache | None = None
        self._shared: RedisFeatureTier | None = None
        self._shared_url: str | None = None
        self.generation: int | None = None
        self.prewarm_generation: int | None = None
        self._next_check = 0.0
        self._next_flush = time.monotonic() + ACTIVITY_FLUSH_SECONDS
        self.last_sync_error = ""
        self.shared_hits = 0
        self._replay_thread: threading.Thread | None = None

    # -- access -----------------------------------------------------------------------------------
    def cache(self) -> FeatureCache:
        """This process's cache, synced with the database at most once per check interval."""
        cache = self._cache
        if cache is None or time.monotonic() >= self._next_check or self._pid != os.getpid():
            self.sync()
            cache = self._cache
        return cache

    def shared_tier(self) -> RedisFeatureTier | None:
        url = settings.CADML_CACHE_REDIS_URL
        if not url:
            return None
        if self._shared is None or self._shared_url != url:
            with self._lock:
                if self._shared is None or self._shared_url != url:
                    self._shared, self._shared_url = RedisFeatureTier(url), url
        return self._shared

    def count_shared_hit(self) -> None:
        with self._lock:
            self.shared_hits += 1

    # -- convergence ------------------------------------------------------------------------------
    def sync(self, *, force: bool = False, replay_in_background: bool = True) -> None:
        from cachectl import selectors

        if self._pid != os.getpid():
            self._forget()  # forked: the inherited lock and cache are not ours
        with self._lock:
            now = time.monotonic()
            if not force and self._cache is not None and now < self._next_check:
                return
            self._next_check = now + CHECK_INTERVAL_SECONDS
            try:
                state = selectors.cache_settings_state()
            except (DatabaseError, TransactionManagementError) as exc:
                self.last_sync_error = f"{type(exc).__name__}: {exc}"
                logger.warning("Cache settings could not be read; keeping the current ones: %s", exc)
                if self._cache is None:
                    self._cache = FeatureCache(capacity=settings.CADML_CACHE_CAPACITY,
                                               ttl_seconds=settings.CADML_CACHE_TTL_SECONDS,
                                               policy=settings.CADML_CACHE_POLICY)
                return
            self.last_sync_error = ""
            if self._cache is None:
                self._cache = FeatureCache(capacity=state.capacity, ttl_seconds=state.ttl_seconds,
                                           policy=state.policy)
            elif state.generation != self.generation:
                self._cache.reconfigure(capacity=state.capacity, ttl_seconds=state.ttl_seconds,
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
            # Not inside the caller's transaction: its row locks would be held until it ends.
            if now >= self._next_flush and not connection.in_atomic_block:
                self._next_flush = now + ACTIVITY_FLUSH_SECONDS
                self.flush_key_activity()
        if replay is not None:
            self._start_replay(replay, background=replay_in_background)

    def mark_prewarm_seen(self, generation: int) -> None:
        """The process that ran a prewarm already loaded it: it must not replay it."""
        with self._lock:
            if self.prewarm_generation is None or generation > self.prewarm_generation:
                self.prewarm_generation = generation

    def flush_key_activity(self) -> int:
        from cachectl.services import cache_key_activity_record

        cache = self._cache
        if cache is None:
            return 0
        activity = cache.drain_activity()
        if not activity:
            return 0
        try:
            return cache_key_activity_record(activity=activity)
        except (DatabaseError, TransactionManagementError) as exc:
            logger.warning("Cache key activity could not be recorded: %s", exc)
            return 0

    def _start_replay(self, generation: int, *, background: bool) -> None:
        from cachectl.services import cache_prewarm_replay

        if not background:
            cache_prewarm_replay(generation=generation)
            return

        def run() -> None:
            try:
                cache_prewarm_replay(generation=generation)
            except Exception:
                logger.exception("Prewarm replay of generation %s failed in pid %s", generation, os.getpid())
            finally:
                connections.close_all()  # this thread's connections only

        thread = threading.Thread(target=run, name=f"cachectl-prewarm-{generation}", daemon=True)
        self._replay_thread = thread
        thread.start()

    def wait_for_replay(self, timeout: float | None = None) -> None:
        thread = self._replay_thread
        if thread is not None:
            thread.join(timeout)

    # -- lifecycle --------------------------------------------------------------------------------
    def _forget(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._cache = None
        self._shared = None
        self._shared_url = None
        self.generation = None
        self.prewarm_generation = None
        self._next_check = 0.0
        self._next_flush = time.monotonic() + ACTIVITY_FLUSH_SECONDS
        self.shared_hits = 0
        self._replay_thread = None

    def reset(self) -> None:
        """Forget everything (a fresh process: after fork, or a simulated restart in tests)."""
        self._forget()

    def reset_after_fork(self) -> None:
        self._forget()
        self.sync()


holder = CacheHolder()
