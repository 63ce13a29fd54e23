"""Latency percentiles and summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        return cls(len(seconds), percentile(seconds, 50), percentile(seconds, 95), percentile(seconds, 99),
                   max(seconds))

    def render(self, name: str) -> str:
        return (f"{name:<22} n={self.count:<6} p50={self.p50 * 1000:8.2f} ms  p95={self.p95 * 1000:8.2f} ms  "
                f"p99={self.p99 * 1000:8.2f} ms  max={self.max * 1000:8.2f} ms")
