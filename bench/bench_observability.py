"""What observability costs a request, and how long the metrics consistency check takes.

* ``process_stats.publish()``: called at the end of every request. Within its one-second interval it only reads
  the clock (the common case); once a second it adds the gc tallies to counters and sets the memory gauges
  (``/proc/self/statm``). Measured with and without PROMETHEUS_MULTIPROC_DIR (production writes to mmap files).
* ``metrics_consistency_check`` over the real rules, dashboard, metrics and code.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_observability.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def summarise(name: str, samples_ns: list[int]) -> None:
    values = sorted(v / 1000 for v in samples_ns)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    print(f"{name:<44} mean {statistics.fmean(values):7.2f} us  p50 {p(0.5):7.2f}  p99 {p(0.99):7.2f}  "
          f"max {values[-1]:8.1f}  (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--forced", type=int, default=5_000)
    parser.add_argument("--multiproc", action="store_true", help="set PROMETHEUS_MULTIPROC_DIR (as gunicorn does)")
    args = parser.parse_args()
    if args.multiproc:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-prom-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("CADML_VAR_DIR", tempfile.mkdtemp(prefix="bench-var-"))
    import django

    django.setup()
    from cadml_site.observability import process_stats
    from tools.rules_lint.project import project_consistency_report

    print(f"prometheus multiprocess: {args.multiproc}")
    process_stats.publish(force=True)
    throttled = []
    for _ in range(args.calls):
        started = time.perf_counter_ns()
        process_stats.publish()
        throttled.append(time.perf_counter_ns() - started)
    summarise("publish() within the interval (per request)", throttled)
    forced = []
    for _ in range(args.forced):
        started = time.perf_counter_ns()
        process_stats.publish(force=True)
        forced.append(time.perf_counter_ns() - started)
    summarise("publish() that publishes (once a second)", forced)

    runs = []
    for _ in range(5):
        started = time.perf_counter()
        report = project_consistency_report(base_dir=ROOT)
        runs.append(time.perf_counter() - started)
    print(f"metrics_consistency_check: {report.notes[0]}; {len(report.problems)} problem(s); "
          f"best {min(runs) * 1000:.0f} ms, median {statistics.median(runs) * 1000:.0f} ms over {len(runs)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
