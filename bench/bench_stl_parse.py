"""Binary STL parse throughput, in process (numpy.frombuffer view; bbox, area, closedness and volume).

Builds a binary STL of N triangles in memory (a closed, finely tessellated box surface) and times
`features.parsers.stl.parse_stl` on it. Target: >= 300 MB/s for 1M triangles (50 MB). The parse alone
(`describe=False`): the v5 shape descriptor the worker adds is measured by `bench/bench_retrieval.py`.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stl_parse.py [--triangles 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from features.parsers.stl import BINARY_RECORD, parse_stl  # noqa: E402
from throughput import report_runs, timed_runs  # noqa: E402  (bench/, beside this script)

TARGET_MB_S = 300.0


def make_stl(triangles: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    records = np.zeros(triangles, dtype=BINARY_RECORD)
    records["vertices"] = rng.uniform(-50, 50, size=(triangles, 3, 3)).astype("<f4")
    return b"bench".ljust(80, b" ") + struct.pack("<I", triangles) + records.tobytes()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data = make_stl(args.triangles)
    size_mb = len(data) / 1e6
    document, seconds, cpu = timed_runs(lambda: parse_stl(data, describe=False), args.repeat)
    assert document.facets == args.triangles
    return report_runs(f"binary STL: {args.triangles} triangles, {size_mb:.1f} MB, {args.repeat} runs",
                       size_mb, seconds, cpu, TARGET_MB_S)


if __name__ == "__main__":
    raise SystemExit(main())
