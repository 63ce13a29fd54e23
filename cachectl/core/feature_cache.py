"""The in-process feature cache (Django-free): a bounded, TTL-limited, thread-safe mapping with exact statistics
and one of two eviction policies (``cachectl.core.policy``).

Every operation is O(1) (amortised: expired entries are purged from the front of the write-order list, and the
sketch is halved once every ``80 x capacity`` recorded accesses). ``reconfigure`` changes capacity, TTL and
policy of a live cache without dropping more entries than needed.

Expiry is "time since write >= current TTL"; because the TTL is global, write order is expiry order, so a
shorter TTL applied live is honoured immediately.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from cachectl.core.policy import POLICY_TINYLFU, FrequencySketch, check_config, segment_limits
from cachectl.core.statistics import CacheStats, HourCounts, KeyActivity, hit_ratio

# segments
_WINDOW = 0
_PROBATION = 1
_PROTECTED = 2


class FeatureCache:
    """Bounded TTL cache with W-TinyLFU (or LRU) eviction and exact statistics; thread-safe."""

    def __init__(
        self,
        *,
        capacity: int,
        ttl_seconds: float,
        policy: str = POLICY_TINYLFU,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_config(capacity, ttl_seconds, policy)
        self._lock = threading.Lock()
        self._clock = clock
        self._data: dict[Hashable, list] = {}  # key -> [value, segment, hash]
        self._window: OrderedDict[Hashable, None] = OrderedDict()
        self._probation: OrderedDict[Hashable, None] = OrderedDict()
        self._protected: OrderedDict[Hashable, None] = OrderedDict()
        self._written: OrderedDict[Hashable, float] = OrderedDict()  # write order == expiry order
        self._activity = KeyActivity()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0
        now = clock()
        self._started = now
        self._hour = HourCounts(now)
        self._policy = policy
        self._capacity = capacity
        self._ttl = float(ttl_seconds)
        self._set_limits()
        self._sketch = FrequencySketch(capacity)

    # -- configuration -------------------------------------------------------------------------
    def _set_limits(self) -> None:
        self._window_cap, self._main_cap, self._protected_cap = segment_limits(self._policy, self._capacity)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    @property
    def policy(self) -> str:
        return self._policy

    def reconfigure(
        self,
        *,
        capacity: int | None = None,
        ttl_seconds: float | None = None,
        policy: str | None = None,
    ) -> None:
        """Apply new limits to the live cache: expire, evict and rebalance segments as needed."""
        with self._lock:
            capacity = self._capacity if capacity is None else capacity
            ttl_seconds = self._ttl if ttl_seconds is None else ttl_seconds
            policy = self._policy if policy is None else policy
            check_config(capacity, ttl_seconds, policy)
            capacity_changed = capacity != self._capacity
            self._capacity, self._ttl, self._policy = capacity, float(ttl_seconds), policy
            self._set_limits()
            if capacity_changed:
                resized = FrequencySketch(capacity)
                if resized.width == self._sketch.width:
                    self._sketch.sample_size = resized.sample_size  # keep the learnt frequencies
                else:
                    self._sketch = resized
            now = self._clock()
            self._purge_expired(now)
            # Too many entries: evict the least proven first (probation, window, then protected).
            while len(self._data) > capacity:
                self._evict_least_proven()
            # LRU keeps everything in the window; move main entries back (coldest at the LRU end).
            if self._main_cap == 0:
                for segment in (self._probation, self._protected):
                    for key in reversed(segment):
                        self._window[key] = None
                        self._window.move_to_end(key, last=False)
                        self._data[key][1] = _WINDOW
                    segment.clear()
            while len(self._protected) > self._protected_cap:
                self._demote_protected()
            while len(self._window) > self._window_cap:
                key, _ = self._window.popitem(last=False)
                self._probation[key] = None
                self._data[key][1] = _PROBATION

    # -- internal list operations ---------------------------------------------------------------
    def _purge_expired(self, now: float) -> None:
        written = self._written
        ttl = self._ttl
        while written:
            key = next(iter(written))
            if now - written[key] < ttl:
                return
            self._remove(key)
            self._expirations += 1

    def _remove(self, key: Hashable) -> None:
        entry = self._data.pop(key)
        segment = entry[1]
        if segment == _WINDOW:
            del self._window[key]
        elif segment == _PROBATION:
            del self._probation[key]
        else:
            del self._protected[key]
        del self._written[key]

    def _demote_protected(self) -> None:
        key, _ = self._protected.popitem(last=False)
        self._probation[key] = None
        self._data[key][1] = _PROBATION

    def _touch(self, key: Hashable, entry: list) -> None:
        segment = entry[1]
        if segment == _WINDOW:
            self._window.move_to_end(key)
        elif segment == _PROTECTED:
            self._protected.move_to_end(key)
        else:
            del self._probation[key]
            self._protected[key] = None
            entry[1] = _PROTECTED
            if len(self._protected) > self._protected_cap:
                self._demote_protected()

    def _evict_from_window(self) -> None:
        sketch = self._sketch
        while len(self._window) > self._window_cap:
            candidate, _ = self._window.popitem(last=False)
            entry = self._data[candidate]
            if len(self._probation) + len(self._protected) < self._main_cap:
                self._probation[candidate] = None
                entry[1] = _PROBATION
                continue
            victim_segment = self._probation or self._protected
            if victim_segment:
                victim = next(iter(victim_segment))
                if sketch.frequency(entry[2]) > sketch.frequency(self._data[victim][2]):
                    self._remove(victim)
                    self._evictions += 1
                    self._probation[candidate] = None
                    entry[1] = _PROBATION
                    continue
            # rejected: the candidate leaves the cache
            del self._data[candidate]
            del self._written[candidate]
            self._evictions += 1
        # After a live shrink the main area may still hold more than its share: trim the least proven.
        while len(self._data) > self._capacity:
            self._evict_least_proven()

    def _evict_least_proven(self) -> None:
        for segment in (self._probation, self._window, self._protected):
            if segment:
                self._remove(next(iter(segment)))
                self._evictions += 1
                return

    # -- public API -----------------------------------------------------------------------------
    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the cached value (a hit) or ``default`` (a miss); counts exactly one of them."""
        h = hash(key)
        with self._lock:
            now = self._clock()
            second = int(now)
            hour = self._hour
            if second != hour.second:
                hour.advance(second)
            written = self._written
            if written:
                oldest = next(iter(written))
                if now - written[oldest] >= self._ttl:
                    self._purge_expired(now)
            self._sketch.increment(h)
            entry = self._data.get(key)
            hit = entry is not None
            self._activity.count(key, hit)
            hour.count(second, hit)
            if not hit:
                self._misses += 1
                return default
            self._hits += 1
            self._touch(key, entry)
            return entry[0]

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """Return the cached value without counting, recording or reordering anything."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None or self._clock() - self._written[key] >= self._ttl:
                return default
            return entry[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Insert or replace a value; a new entry enters the window and may evict another."""
        h = hash(key)
        with self._lock:
            now = self._clock()
            self._purge_expired(now)
            entry = self._data.get(key)
            if entry is not None:
                entry[0] = value
                self._written.pop(key)
                self._written[key] = now
                self._touch(key, entry)
                return
            self._data[key] = [value, _WINDOW, h]
            self._window[key] = None
            self._written[key] = now
            self._evict_from_window()

    def invalidate(self, key: Hashable) -> bool:
        """Drop `key`; True when a live entry was dropped (an expired one counts as already gone)."""
        with self._lock:
            self._purge_expired(self._clock())
            if key in self._data:
                self._remove(key)
                return True
            return False

    def clear(self) -> None:
        with self._lock:
            for container in (self._data, self._window, self._probation, self._protected, self._written):
                container.clear()

    def __len__(self) -> int:
        with self._lock:
            self._purge_expired(self._clock())
            return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            self._purge_expired(self._clock())
            return key in self._data

    def keys_by_priority(self) -> list[Hashable]:
        """Resident keys, most valuable first (protected MRU..LRU, probation, then window)."""
        with self._lock:
            self._purge_expired(self._clock())
            return [
                *reversed(self._protected),
                *reversed(self._probation),
                *reversed(self._window),
            ]

    def drain_activity(self) -> dict[Hashable, tuple[int, int]]:
        """Return and forget ``(hits, lookups)`` per key since the last drain (the ``ACTIVITY_LIMIT`` most
        recently looked-up keys)."""
        with self._lock:
            return self._activity.drain()

    def stats(self) -> CacheStats:
        with self._lock:
            now = self._clock()
            self._hour.advance(int(now))
            self._purge_expired(now)
            return CacheStats(
                policy=self._policy,
                capacity=self._capacity,
                ttl_seconds=self._ttl,
                size=len(self._data),
                hits=self._hits,
                misses=self._misses,
                hit_ratio=hit_ratio(self._hits, self._misses),
                hour_hits=self._hour.hits,
                hour_misses=self._hour.misses,
                hour_hit_ratio=hit_ratio(self._hour.hits, self._hour.misses),
                evictions=self._evictions,
                expirations=self._expirations,
                window_size=len(self._window),
                probation_size=len(self._probation),
                protected_size=len(self._protected),
                uptime_seconds=now - self._started,
            )
