"""Statistics of the cache core (Django-free): exact totals, the sliding hour of hits and misses, and the
per-key activity the prewarm plan learns from. Not thread-safe on their own (the cache holds the lock)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Any

HOUR_SECONDS = 3600
ACTIVITY_LIMIT = 10_000


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


def hit_ratio(hits: int, misses: int) -> float | None:
    total = hits + misses
    return hits / total if total else None


class HourCounts:
    """Hits and misses of the last hour, in one bucket per second (O(1) amortised per lookup)."""

    __slots__ = ("second", "hits", "misses", "_hit_buckets", "_miss_buckets")

    def __init__(self, now: float) -> None:
        self.second = int(now)
        self.hits = 0
        self.misses = 0
        self._hit_buckets = [0] * HOUR_SECONDS
        self._miss_buckets = [0] * HOUR_SECONDS

    def advance(self, second: int) -> None:
        """Forget the buckets that fell out of the hour before ``second``."""
        last = self.second
        if second <= last:
            return
        hits, misses = self._hit_buckets, self._miss_buckets
        if second - last >= HOUR_SECONDS:
            for i in range(HOUR_SECONDS):
                hits[i] = 0
                misses[i] = 0
            self.hits = self.misses = 0
        else:
            for s in range(last + 1, second + 1):
                i = s % HOUR_SECONDS
                self.hits -= hits[i]
                self.misses -= misses[i]
                hits[i] = 0
                misses[i] = 0
        self.second = second

    def count(self, second: int, hit: bool) -> None:
        """One lookup at ``second`` (already advanced to)."""
        if hit:
            self.hits += 1
            self._hit_buckets[second % HOUR_SECONDS] += 1
        else:
            self.misses += 1
            self._miss_buckets[second % HOUR_SECONDS] += 1


class KeyActivity:
    """``[hits, lookups]`` per key since the last drain, for the ``ACTIVITY_LIMIT`` most recently looked-up keys."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: OrderedDict[Hashable, list[int]] = OrderedDict()

    def count(self, key: Hashable, hit: bool) -> None:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
            if len(self._counts) > ACTIVITY_LIMIT:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(key)
        counts[1] += 1
        if hit:
            counts[0] += 1

    def drain(self) -> dict[Hashable, tuple[int, int]]:
        drained = {key: (hits, lookups) for key, (hits, lookups) in self._counts.items()}
        self._counts.clear()
        return drained
