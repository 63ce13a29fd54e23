"""Hit ratio of the feature cache's eviction policies on a skewed (Zipf) lookup trace.

Replays 300,000 lookups whose popularity follows Zipf (s = 1.1) over 10,000 distinct keys through
`cachectl.core.FeatureCache` (get, and put on a miss, as `analyze` does) with the W-TinyLFU policy
and with plain LRU, and prints both beside the static optimum (the best fixed set of `capacity` keys
for this trace: the share of lookups that go to its `capacity` most frequent keys).  A second,
informational trace checks that the policy still adapts when popularity shifts: 100,000 lookups of
trace A, 100,000 of an independently permuted trace B, then 100,000 more of A.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_cache_policy.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachectl.core import POLICY_LRU, POLICY_TINYLFU, FeatureCache  # noqa: E402

LOOKUPS = 300_000
DISTINCT = 10_000
ZIPF_S = 1.1
TARGETS = {1_000: 0.83, 2_000: 0.87}


def zipf_trace(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, DISTINCT + 1, dtype=np.float64)
    weights = ranks**-ZIPF_S
    probabilities = weights / weights.sum()
    popularity_to_key = rng.permutation(DISTINCT)  # popular keys are not the low ids
    return popularity_to_key[rng.choice(DISTINCT, size=LOOKUPS, p=probabilities)]


def static_optimum(trace: np.ndarray, capacity: int) -> float:
    counts = np.sort(np.bincount(trace, minlength=DISTINCT))[::-1]
    return float(counts[:capacity].sum()) / len(trace)


def drift_trace() -> np.ndarray:
    first, second = zipf_trace(0), zipf_trace(1)
    return np.concatenate([first[:100_000], second[:100_000], first[100_000:200_000]])


def replay(trace_keys: list, capacity: int, policy: str) -> tuple[float, float]:
    cache = FeatureCache(capacity=capacity, ttl_seconds=10**9, policy=policy)
    started = time.perf_counter()
    for key in trace_keys:
        if cache.get(key) is None:
            cache.put(key, key)
    elapsed = time.perf_counter() - started
    stats = cache.stats()
    assert stats.hits + stats.misses == len(trace_keys)
    assert stats.size <= capacity
    return stats.hit_ratio, elapsed / len(trace_keys) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of independent traces")
    args = parser.parse_args()
    names = [(hashlib.sha256(str(i).encode()).hexdigest(), "v2") for i in range(DISTINCT)]
    print(f"Zipf s={ZIPF_S}, {DISTINCT:,} keys, {LOOKUPS:,} lookups, {args.seeds} seeds")
    print(f"{'capacity':>8} {'seed':>4} {'w-tinylfu':>9} {'lru':>7} {'optimum':>7} {'us/lookup':>9}")
    ok = True
    for capacity, target in TARGETS.items():
        ratios = []
        for seed in range(args.seeds):
            trace = zipf_trace(seed)
            keys = [names[i] for i in trace]
            tinylfu, cost = replay(keys, capacity, POLICY_TINYLFU)
            lru, _ = replay(keys, capacity, POLICY_LRU)
            optimum = static_optimum(trace, capacity)
            ratios.append(tinylfu)
            print(f"{capacity:>8} {seed:>4} {tinylfu:>9.4f} {lru:>7.4f} {optimum:>7.4f} {cost:>9.2f}")
        worst = min(ratios)
        verdict = "PASS" if worst >= target else "FAIL"
        ok &= worst >= target
        print(f"capacity {capacity}: worst w-tinylfu hit ratio {worst:.4f} (target >= {target}) {verdict}")
    drift = drift_trace()
    keys = [names[i] for i in drift]
    print("popularity shift (A, B, A), informational:")
    for capacity in TARGETS:
        tinylfu, _ = replay(keys, capacity, POLICY_TINYLFU)
        lru, _ = replay(keys, capacity, POLICY_LRU)
        print(f"{capacity:>8} {'A/B/A':>4} {tinylfu:>9.4f} {lru:>7.4f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
