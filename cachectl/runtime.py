"""In-process feature cache core (Django-free).

`FeatureCache` is a bounded, TTL-limited, thread-safe mapping with exact statistics and one of two
eviction policies:

* ``"w-tinylfu"`` (the default, chosen by measurement: see ``bench/bench_cache_policy.py``): a small
  LRU *window* (1 % of the capacity) in front of a segmented-LRU *main* area (probation + protected,
  protected = 80 % of main).  An entry leaving the window only enters the main area when a
  count-min sketch (4 rows of 4-bit counters, conservative update, halved every
  ``80 x capacity`` accesses) estimates that it is requested more often than the main area's
  eviction victim.
  This keeps one-hit wonders from flushing the popular entries of a skewed (Zipf-like) workload.
* ``"lru"``: plain least-recently-used (window = whole capacity, no admission filter), kept as the
  measured baseline and as an operational fallback.

Every operation is O(1) (amortised: expired entries are purged from the front of the write-order
list, and the sketch is halved once every ``80 x capacity`` recorded accesses).  ``reconfigure``
changes capacity, TTL and policy of a live cache without dropping more entries than needed.

Expiry is "time since write >= current TTL"; because the TTL is global, write order is expiry order,
so a shorter TTL applied live is honoured immediately.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from typing import Any

POLICY_TINYLFU = "w-tinylfu"
POLICY_LRU = "lru"
POLICIES = (POLICY_TINYLFU, POLICY_LRU)

WINDOW_FRACTION = 0.01
PROTECTED_FRACTION = 0.80
SKETCH_DEPTH = 4
SKETCH_COUNTER_MAX = 15
SAMPLE_FACTOR = 80
WIDTH_FACTOR = 4
HOUR_SECONDS = 3600
ACTIVITY_LIMIT = 10_000

# segments
_WINDOW = 0
_PROBATION = 1
_PROTECTED = 2

_MASK64 = (1 << 64) - 1
_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
_HALVE = bytes(i >> 1 for i in range(256))


class CacheConfigError(ValueError):
    """An invalid capacity, TTL or policy was given to the cache core."""


def _check_config(capacity: Any, ttl_seconds: Any, policy: Any) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise CacheConfigError(f"capacity must be a positive integer, got {capacity!r}")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) or not ttl_seconds > 0:
        raise CacheConfigError(f"ttl_seconds must be a positive number, got {ttl_seconds!r}")
    if ttl_seconds == float("inf"):
        raise CacheConfigError("ttl_seconds must be finite")
    if policy not in POLICIES:
        raise CacheConfigError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")


class FrequencySketch:
    """Count-min sketch of 4-bit counters aged by halving (the "TinyLFU" frequency filter).

    Each access increments the key's 4 counters that are at the current minimum (conservative
    update).  After ``sample_size`` increments every counter is halved, so the estimate follows a
    changing popularity.  Memory is fixed: 4 rows of ``width`` bytes.  A doorkeeper (first access
    kept in a set, not in the sketch) was measured and dropped: no better hit ratio, unbounded
    memory.  Not thread-safe on its own (the cache holds the lock).
    """

    __slots__ = ("_rows", "_shift", "_additions", "sample_size", "width")

    def __init__(self, capacity: int) -> None:
        width = 16
        while width < WIDTH_FACTOR * capacity:
            width <<= 1
        self.width = width
        self._shift = 64 - (width.bit_length() - 1)
        self._rows = [bytearray(width) for _ in range(SKETCH_DEPTH)]
        self._additions = 0
        self.sample_size = SAMPLE_FACTOR * max(capacity, 1)

    def _indexes(self, h: int) -> tuple[int, int, int, int]:
        h &= _MASK64
        h ^= h >> 31
        s = self._shift
        return (
            ((h * _SEEDS[0]) & _MASK64) >> s,
            ((h * _SEEDS[1]) & _MASK64) >> s,
            ((h * _SEEDS[2]) & _MASK64) >> s,
            ((h * _SEEDS[3]) & _MASK64) >> s,
        )

    def frequency(self, h: int) -> int:
        r0, r1, r2, r3 = self._rows
        i0, i1, i2, i3 = self._indexes(h)
        return min(r0[i0], r1[i1], r2[i2], r3[i3])

    def increment(self, h: int) -> None:
        r0, r1, r2, r3 = self._rows
        i0, i1, i2, i3 = self._indexes(h)
        v0, v1, v2, v3 = r0[i0], r1[i1], r2[i2], r3[i3]
        low = min(v0, v1, v2, v3)
        if low < SKETCH_COUNTER_MAX:
            if v0 == low:
                r0[i0] = low + 1
            if v1 == low:
                r1[i1] = low + 1
            if v2 == low:
                r2[i2] = low + 1
            if v3 == low:
                r3[i3] = low + 1
        self._additions += 1
        if self._additions >= self.sample_size:
            self._age()

    def _age(self) -> None:
        self._rows = [row.translate(_HALVE) for row in self._rows]
        self._additions //= 2


@dataclass(frozen=True)
class CacheStats:
    policy: str
    capacity: int
    ttl_seconds: float
    size: int
    hits: int
    misses: int
    hit_ratio: float | None
    hour_hits: int
    hour_misses: int
    hour_hit_ratio: float | None
    evictions: int
    expirations: int
    window_size: int
    probation_size: int
    protected_size: int
    uptime_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(hits: int, misses: int) -> float | None:
    total = hits + misses
    return hits / total if total else None


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
        _check_config(capacity, ttl_seconds, policy)
        self._lock = threading.Lock()
        self._clock = clock
        self._data: dict[Hashable, list] = {}  # key -> [value, segment, hash]
        self._window: OrderedDict[Hashable, None] = OrderedDict()
        self._probation: OrderedDict[Hashable, None] = OrderedDict()
        self._protected: OrderedDict[Hashable, None] = OrderedDict()
        self._written: OrderedDict[Hashable, float] = OrderedDict()  # write order == expiry order
        self._activity: OrderedDict[Hashable, list[int]] = OrderedDict()  # key -> [hits, lookups]
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0
        now = clock()
        self._started = now
        self._bucket_second = int(now)
        self._hit_buckets = [0] * HOUR_SECONDS
        self._miss_buckets = [0] * HOUR_SECONDS
        self._hour_hits = 0
        self._hour_misses = 0
        self._policy = policy
        self._capacity = capacity
        self._ttl = float(ttl_seconds)
        self._set_limits()
        self._sketch = FrequencySketch(capacity)

    # -- configuration -------------------------------------------------------------------------
    def _set_limits(self) -> None:
        if self._policy == POLICY_LRU or self._capacity < 2:
            self._window_cap = self._capacity
        else:
            self._window_cap = max(1, round(self._capacity * WINDOW_FRACTION))
        self._main_cap = self._capacity - self._window_cap
        self._protected_cap = int(self._main_cap * PROTECTED_FRACTION)

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
            _check_config(capacity, ttl_seconds, policy)
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

    # -- hour buckets -----------------------------------------------------------------------------
    def _advance(self, second: int) -> None:
        last = self._bucket_second
        if second <= last:
            return
        hits, misses = self._hit_buckets, self._miss_buckets
        if second - last >= HOUR_SECONDS:
            for i in range(HOUR_SECONDS):
                hits[i] = 0
                misses[i] = 0
            self._hour_hits = self._hour_misses = 0
        else:
            for s in range(last + 1, second + 1):
                i = s % HOUR_SECONDS
                self._hour_hits -= hits[i]
                self._hour_misses -= misses[i]
                hits[i] = 0
                misses[i] = 0
        self._bucket_second = second

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
            if second != self._bucket_second:
                self._advance(second)
            written = self._written
            if written:
                oldest = next(iter(written))
                if now - written[oldest] >= self._ttl:
                    self._purge_expired(now)
            self._sketch.increment(h)
            entry = self._data.get(key)
            index = second % HOUR_SECONDS
            activity = self._activity
            counts = activity.get(key)
            if counts is None:
                counts = activity[key] = [0, 0]
                if len(activity) > ACTIVITY_LIMIT:
                    activity.popitem(last=False)
            else:
                activity.move_to_end(key)
            counts[1] += 1
            if entry is None:
                self._misses += 1
                self._hour_misses += 1
                self._miss_buckets[index] += 1
                return default
            counts[0] += 1
            self._hits += 1
            self._hour_hits += 1
            self._hit_buckets[index] += 1
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
        with self._lock:
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
            drained = {key: (hits, lookups) for key, (hits, lookups) in self._activity.items()}
            self._activity.clear()
            return drained

    def stats(self) -> CacheStats:
        with self._lock:
            now = self._clock()
            self._advance(int(now))
            self._purge_expired(now)
            return CacheStats(
                policy=self._policy,
                capacity=self._capacity,
                ttl_seconds=self._ttl,
                size=len(self._data),
                hits=self._hits,
                misses=self._misses,
                hit_ratio=_ratio(self._hits, self._misses),
                hour_hits=self._hour_hits,
                hour_misses=self._hour_misses,
                hour_hit_ratio=_ratio(self._hour_hits, self._hour_misses),
                evictions=self._evictions,
                expirations=self._expirations,
                window_size=len(self._window),
                probation_size=len(self._probation),
                protected_size=len(self._protected),
                uptime_seconds=now - self._started,
            )
