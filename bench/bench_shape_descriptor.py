"""The v5 shape descriptor (`features.descriptors.shape`) of this checkout against another checkout's, interleaved in
one process: CPU time per call (median), a tiny mesh, a shared sample mesh and a small set of curves.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_shape_descriptor.py --baseline-root /tmp/before [--calls 1000]

The other checkout's `features/descriptors/shape.py` is loaded from its file under another module name (the module
is Django-free and imports nothing of ours), so both are timed on the same inputs, one call of each in turn. Also
checks that both give the same descriptor, value for value (the speed of a descriptor that changed its numbers
would not be comparable: a v5 vector must not move).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_request_overhead import tiny_stl  # noqa: E402
from features.descriptors import shape  # noqa: E402
from features.thumbnails.geometry import stl_triangles  # noqa: E402


def load_baseline(root: Path):
    spec = importlib.util.spec_from_file_location("baseline_shape", root / "features" / "descriptors" / "shape.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(samples: Path) -> dict:
    curve = np.random.default_rng(1).normal(size=(200, 3))
    benchy = stl_triangles((samples / "stl" / "build123d__low_poly_benchy.stl").read_bytes()).astype(np.float32)
    return {
        "tiny STL, 12 triangles": lambda m: m.describe_triangles(stl_triangles(tiny_stl(1)).astype(np.float32)),
        "benchy STL, 984 triangles": lambda m: m.describe_triangles(benchy),
        "199 segments": lambda m: m.describe_segments(curve[:-1], curve[1:], source="dxf"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-root", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--samples", type=Path, default=Path(os.environ.get("CADML_SAMPLES_DIR",
                                                                            ROOT.parent / "shared" / "cad-samples")))
    args = parser.parse_args()
    baseline = load_baseline(args.baseline_root)
    print(f"v5 shape descriptor, CPU time per call (median of {args.calls}, interleaved), "
          f"load average {os.getloadavg()[0]:.2f}")
    for label, call in cases(args.samples).items():
        if call(baseline) != call(shape):
            print(f"  {label}: the two codes give different descriptors")
            return 1
        times: dict[str, list[float]] = {"baseline": [], "this": []}
        for _ in range(30):
            call(baseline), call(shape)
        for _ in range(args.calls):
            for key, module in (("baseline", baseline), ("this", shape)):
                started = time.thread_time()
                call(module)
                times[key].append(time.thread_time() - started)
        before, now = statistics.median(times["baseline"]), statistics.median(times["this"])
        print(f"  {label:28s} baseline {before * 1e3:7.3f} ms   this checkout {now * 1e3:7.3f} ms   "
              f"ratio {now / before:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
