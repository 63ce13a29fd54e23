"""Feature extraction latency from a stored summary (JSON dict, as kept in `CadFile.summary`), per version.

Each timed call is what `stored_features`/analyze do: `CadDocument.from_dict(summary)` + `extract_features`.
Summaries come from real shared samples (one per format). Target: p95 <= 1 ms for every version.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_extraction.py [--calls 20000] [--samples DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from features.extractors import FEATURE_VERSIONS, extract_features  # noqa: E402
from features.parsers.format_parsers import parse_format  # noqa: E402
from features.parsers.document import CadDocument  # noqa: E402
from features.parsers.sniff import sniff_format  # noqa: E402

SAMPLES = ["dxf/cadquery__gear.dxf", "stl/trimesh__featuretype.STL", "step/trimesh__featuretype.STEP",
           "iges/pythonocc__example_45_faces.iges", "obj/trimesh__groups.obj"]
TARGET_P95_MS = 1.0


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR",
                                                            str(Path(ROOT).parent / "shared" / "cad-samples")))
    args = parser.parse_args()
    summaries = []
    for name in SAMPLES:
        data = (Path(args.samples) / name).read_bytes()
        summaries.append(json.loads(json.dumps(parse_format(sniff_format(data, name), data).to_dict())))
    worst = 0.0
    print(f"extraction from stored summaries ({len(summaries)} formats), {args.calls} calls per version")
    for version in FEATURE_VERSIONS:
        samples = []
        for i in range(args.calls):
            summary = summaries[i % len(summaries)]
            started = time.perf_counter_ns()
            extract_features(CadDocument.from_dict(summary), version)
            samples.append((time.perf_counter_ns() - started) / 1e6)
        samples.sort()
        p95 = percentile(samples, 0.95)
        worst = max(worst, p95)
        print(f"  {version}: p50 {percentile(samples, 0.5) * 1000:6.1f} us  p95 {p95 * 1000:6.1f} us"
              f"  p99 {percentile(samples, 0.99) * 1000:6.1f} us  max {samples[-1] * 1000:8.1f} us")
    print(f"  worst p95 {worst * 1000:.1f} us (target <= {TARGET_P95_MS * 1000:.0f} us)")
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
