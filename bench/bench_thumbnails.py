"""Thumbnail render cost against the parse of the same file, both in a warm parse pool worker (as the service runs
them): per shared sample, the median of N renders over the median of N parses, then per format and overall.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_thumbnails.py [--repeat 3] [--samples ../shared/cad-samples]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from features.parsers.errors import CadParseError  # noqa: E402
from features.parse_workers.pool import ParsePool  # noqa: E402
from features.parsers.sniff import sniff_format  # noqa: E402


def median_seconds(call, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR", os.path.join(ROOT, "..", "shared",
                                                                                               "cad-samples")))
    args = parser.parse_args()
    pool = ParsePool(workers=1, timeout_seconds=60.0).start()
    per_format: dict[str, list[tuple[float, float]]] = defaultdict(list)
    skipped = 0
    try:
        for folder in ("dxf", "stl", "step", "iges", "obj"):
            for path in sorted(p for p in (Path(args.samples) / folder).iterdir() if p.is_file()):
                data = path.read_bytes()
                try:
                    fmt = sniff_format(data, path.name)
                    pool.parse(fmt, data)  # warm: the first call imports the format's libraries
                    pool.render(fmt, data)
                except CadParseError:
                    skipped += 1
                    continue
                parse = median_seconds(lambda: pool.parse(fmt, data), args.repeat)
                render = median_seconds(lambda: pool.render(fmt, data), args.repeat)
                per_format[fmt].append((parse, render))
                print(f"{path.name:48s} {len(data):>9d} B  parse {parse * 1000:8.1f} ms  render "
                      f"{render * 1000:8.1f} ms  render/parse {render / parse:6.2f}")
    finally:
        pool.shutdown()
    print(f"\n{'format':6s} {'files':>5s} {'parse median ms':>16s} {'render median ms':>17s} "
          f"{'render/parse (median of ratios)':>32s}")
    everything = []
    for fmt, rows in per_format.items():
        everything.extend(rows)
        print(f"{fmt:6s} {len(rows):5d} {statistics.median(p for p, _ in rows) * 1000:16.1f} "
              f"{statistics.median(r for _, r in rows) * 1000:17.1f} {statistics.median(r / p for p, r in rows):32.2f}")
    total_parse, total_render = sum(p for p, _ in everything), sum(r for _, r in everything)
    print(f"all    {len(everything):5d}  total parse {total_parse:.2f} s, total render {total_render:.2f} s, "
          f"ratio {total_render / total_parse:.2f}; median of ratios "
          f"{statistics.median(r / p for p, r in everything):.2f}; {skipped} samples not drawable or refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
