"""What a feature cache hit adds to a request.

Times `cachectl.services.feature_cache_get` on a hit, the full path `features.analyze` takes (key checks,
the holder's once-per-second settings check against the database, the in-process W-TinyLFU lookup, the
Prometheus hit counter, the copy of the values), and the bare `FeatureCache.get` beside it. Uses a
throw-away SQLite database; `--multiproc` sets PROMETHEUS_MULTIPROC_DIR like production (gunicorn workers),
where a counter increment writes to a shared mmap file.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_cache_hit.py [--lookups 200000] [--multiproc]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BUDGET_US = 50.0


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def report(name: str, samples_ns: list[int]) -> float:
    values = sorted(v / 1000 for v in samples_ns)
    mean = statistics.fmean(values)
    print(f"{name:<42} mean {mean:6.2f} us  p50 {percentile(values, 0.5):6.2f}  p99 {percentile(values, 0.99):6.2f}"
          f"  p99.9 {percentile(values, 0.999):7.2f}  max {values[-1]:8.1f}")
    return percentile(values, 0.99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--multiproc", action="store_true", help="prometheus_client multiprocess mode")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="cadml-bench-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "cadml_site.settings", "CADML_VAR_DIR": var_dir,
                       "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(40), "CADML_CACHE_REDIS_URL": "",
                       "REDIS_URL": ""})
    os.environ.pop("DATABASE_URL", None)
    if args.multiproc:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cadml-bench-prom-")
    else:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cachectl.holder import holder
    from cachectl.services import feature_cache_get, feature_cache_put

    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)]
    values = [float(i) / 7 for i in range(24)]  # a v4 vector
    for i, sha in enumerate(keys):
        feature_cache_put(sha256=sha, version="v4", values=values, document_id=i)
    cache = holder.cache()
    print(f"policy {cache.policy}, capacity {cache.capacity}, {len(cache)} entries, {args.lookups:,} hits, "
          f"prometheus multiprocess: {bool(args.multiproc)}")

    clock = time.perf_counter_ns
    bare = []
    for i in range(args.lookups):
        key = (keys[i % 1000], "v4")
        started = clock()
        cache.get(key)
        bare.append(clock() - started)
    full = []
    for i in range(args.lookups):
        sha = keys[i % 1000]
        started = clock()
        entry = feature_cache_get(sha256=sha, version="v4")
        full.append(clock() - started)
        assert entry is not None
    wall = time.perf_counter()
    for i in range(args.lookups):
        feature_cache_get(sha256=keys[i % 1000], version="v4")
    wall = time.perf_counter() - wall

    report("FeatureCache.get (in-process tier only)", bare)
    p99 = report("feature_cache_get on a hit (full path)", full)
    print(f"throughput {args.lookups / wall:,.0f} hits/s on one thread "
          f"({wall / args.lookups * 1e6:.2f} us per hit, settings checks included)")
    verdict = "PASS" if p99 <= BUDGET_US else "FAIL"
    print(f"p99 of a hit {p99:.2f} us (budget <= {BUDGET_US:.0f} us) {verdict}")
    return 0 if p99 <= BUDGET_US else 1


if __name__ == "__main__":
    raise SystemExit(main())
