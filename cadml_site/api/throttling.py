"""Scoped throttling keyed by API key (by client address for anonymous requests).

Budgets are sliding windows approximated by two fixed-window counters in the shared cache (Redis, the database
cache or files): the previous window's count weighted by how much of it still overlaps the last ``duration`` plus
the current window's count, so every worker and host spends the same budget and a window boundary is no reset.
A worker does not pay a cache round trip per request: it counts locally and adds its local count to the shared
counter at most every ``SYNC_SECONDS`` per key, or sooner when it has admitted a
``1/SYNC_SLICES`` slice of the budget since its last sync, or when its estimate reaches the budget (then the shared
count decides). Small budgets (fewer than ``SYNC_SLICES`` requests) therefore sync on every request and are exact;
large ones may be overrun by at most one slice per worker plus what the other workers admitted within a second.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache as default_cache
from rest_framework.throttling import SimpleRateThrottle

from cadml_site.api.authentication import Credentials

SYNC_SECONDS = 1.0
SYNC_SLICES = 50


@dataclass
class _Window:
    index: int  # which fixed window (time // duration) the counts belong to
    previous: int | None = None  # the previous window's shared count (read once per window)
    shared: int = 0  # the shared counter as of the last sync (this worker's pushed requests included)
    pending: int = 0  # admitted here since the last sync, not yet added to the shared counter
    synced_at: float = -math.inf


class LocalCounters:
    """This process's view of the shared window counters, one ``_Window`` per cache key."""

    def __init__(self):
        self._windows: dict[str, _Window] = {}
        self.lock = threading.Lock()

    def window(self, key: str, index: int) -> _Window:
        current = self._windows.get(key)
        if current is None or current.index != index:
            if len(self._windows) > 10_000:  # stale windows of idle keys: forget them all rather than grow
                self._windows.clear()
            current = self._windows[key] = _Window(index)
        return current

    def clear(self) -> None:
        with self.lock:
            self._windows.clear()


local_counters = LocalCounters()


class ApiKeyScopedThrottle(SimpleRateThrottle):
    """Applies the rate of the view's ``throttle_scope`` (``default`` when it names none).

    The answer to an exhausted budget is 429 with ``Retry-After`` (rendered by the exception handler).
    """

    cache = default_cache
    counters = local_counters
    cache_format = "throttle:%(scope)s:%(ident)s"
    timer = time.time

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or "default"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        index = int(self.now // self.duration)
        shared_key = f"{self.key}:{index}"
        slice_size = max(1, self.num_requests // SYNC_SLICES)
        with self.counters.lock:
            window = self.counters.window(self.key, index)
            if window.previous is None:
                window.previous = int(self.cache.get(f"{self.key}:{index - 1}", 0))
            carried = window.previous * (1.0 - (self.now / self.duration - index))
            if carried + window.shared + window.pending + 1 > self.num_requests:
                if self.now - window.synced_at < SYNC_SECONDS and window.pending == 0:
                    return self._refuse(index, window, carried)
                self._sync(window, shared_key)
                if carried + window.shared + 1 > self.num_requests:
                    return self._refuse(index, window, carried)
            window.pending += 1
            if (window.pending >= slice_size or self.now - window.synced_at >= SYNC_SECONDS
                    or carried + window.shared + window.pending >= self.num_requests):
                self._sync(window, shared_key)
                if carried + window.shared > self.num_requests:  # other workers spent the budget meanwhile
                    return self._refuse(index, window, carried)
        return True

    def _sync(self, window: _Window, shared_key: str) -> None:
        """Adds the local count to the shared counter (one round trip) and reads the total back."""
        add, window.pending = window.pending, 0
        if add == 0:
            window.shared = int(self.cache.get(shared_key, 0))
        else:
            try:
                window.shared = int(self.cache.incr(shared_key, add))
            except ValueError:  # first request of the window anywhere
                if self.cache.add(shared_key, add, timeout=self.duration + 1):
                    window.shared = add
                else:
                    window.shared = int(self.cache.incr(shared_key, add))
        window.synced_at = self.now

    def _refuse(self, index: int, window: _Window, carried: float) -> bool:
        """Retry-After: when the previous window's share has decayed enough, else when this window ends."""
        window_end = (index + 1) * self.duration
        room = self.num_requests - window.shared - 1
        if window.previous and 0 <= room < carried:
            # carried(t) = previous * (1 - elapsed(t) / duration) falls to ``room`` at this time
            self.wait_seconds = (index + 1 - room / window.previous) * self.duration - self.now
        else:
            self.wait_seconds = window_end - self.now
        return False

    def wait(self):
        return max(1.0, getattr(self, "wait_seconds", self.duration))

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.THROTTLE_RATES["default"]

    def get_cache_key(self, request, view):
        auth = getattr(request, "auth", None)
        ident = f"key:{auth.api_key.prefix}" if isinstance(auth, Credentials) else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
