"""Eviction policies of the cache core (Django-free): the configuration check, segment sizes and the TinyLFU
frequency sketch.

* ``"w-tinylfu"`` (the default, chosen by measurement: see ``bench/bench_cache_policy.py``): a small LRU
  *window* (1 % of the capacity) in front of a segmented-LRU *main* area (probation + protected, protected =
  80 % of main). An entry leaving the window only enters the main area when a count-min sketch (4 rows of 4-bit
  counters, conservative update, halved every ``80 x capacity`` accesses) estimates that it is requested more
  often than the main area's eviction victim. This keeps one-hit wonders from flushing the popular entries of a
  skewed (Zipf-like) workload.
* ``"lru"``: plain least-recently-used (window = whole capacity, no admission filter), kept as the measured
  baseline and as an operational fallback.
"""

from __future__ import annotations

from typing import Any, NamedTuple

POLICY_TINYLFU = "w-tinylfu"
POLICY_LRU = "lru"
POLICIES = (POLICY_TINYLFU, POLICY_LRU)

WINDOW_FRACTION = 0.01
PROTECTED_FRACTION = 0.80
SKETCH_DEPTH = 4
SKETCH_COUNTER_MAX = 15
SAMPLE_FACTOR = 80
WIDTH_FACTOR = 4

_MASK64 = (1 << 64) - 1
_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
_HALVE = bytes(i >> 1 for i in range(256))


class CacheConfigError(ValueError):
    """An invalid capacity, TTL or policy was given to the cache core."""


def check_config(capacity: Any, ttl_seconds: Any, policy: Any) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise CacheConfigError(f"capacity must be a positive integer, got {capacity!r}")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) or not ttl_seconds > 0:
        raise CacheConfigError(f"ttl_seconds must be a positive number, got {ttl_seconds!r}")
    if ttl_seconds == float("inf"):
        raise CacheConfigError("ttl_seconds must be finite")
    if policy not in POLICIES:
        raise CacheConfigError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")


class SegmentLimits(NamedTuple):
    window: int
    main: int
    protected: int


def segment_limits(policy: str, capacity: int) -> SegmentLimits:
    """How many entries the window, the main area and its protected part may hold."""
    if policy == POLICY_LRU or capacity < 2:
        window = capacity
    else:
        window = max(1, round(capacity * WINDOW_FRACTION))
    main = capacity - window
    return SegmentLimits(window, main, int(main * PROTECTED_FRACTION))


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
