"""Index memory of N worker processes holding the same verified snapshot: shared mapping against private copies.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_index_shared_memory.py --quick          # 100k x 24, flat + HNSW
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_index_shared_memory.py --sizes 1000000  # 1M x 24

For each size and index kind, the parent writes one snapshot (``build_snapshot``, as a rebuild does), then starts
N worker processes (separate interpreters, like gunicorn workers) that each load it through ``IndexHolder`` and run
a few searches (which touch the mapped pages), first with ``share_snapshots=False`` (each reads a private copy: the
code before issue 14), then with the shared mapping. Memory is PSS from /proc/PID/smaps_rollup (a page shared by k
processes counts 1/k in each), taken as the growth over the worker's PSS just before loading, summed over the
workers, and printed as a ratio against one private copy measured in the same run. The load peak is the growth of
the worker's peak RSS (VmHWM) during the load. Django-free: the holder reads a static in-process source.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from vectors.index.faiss_store import IndexConfig  # noqa: E402
from vectors.index.holder import ChangeSet, IndexHolder, SourceState, build_snapshot  # noqa: E402

D = 24
GENERATION = 1


class SnapshotSource:
    """Rows as of the snapshot (for the parent's build), no change since (for the workers)."""

    def __init__(self, n: int | None = None):
        self.n = n

    def state(self, feature_version):
        return SourceState(generation=GENERATION, epoch=0, degraded=False, snapshot_generation=GENERATION)

    def load_all(self, feature_version):
        rng = np.random.default_rng(7)
        vectors = rng.standard_normal((self.n, D), dtype=np.float32)
        return ChangeSet(GENERATION, np.empty(0, np.int64), np.arange(1, self.n + 1, dtype=np.int64), vectors)

    def changes_since(self, feature_version, generation):
        return ChangeSet(GENERATION, np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, D), np.float32))

    def report_degraded(self, feature_version, reason, error):
        raise RuntimeError(f"unexpected degradation in the benchmark: {reason}: {error}")


def _config(kind: str) -> IndexConfig:
    return IndexConfig(hnsw_threshold=1 if kind == "hnsw" else 2**62, hnsw_m=16, hnsw_ef_construction=40)


def smaps_rollup(pid: int) -> dict[str, int]:
    """Bytes per field of /proc/PID/smaps_rollup (Rss, Pss, Shared_Clean, Private_Dirty, ...)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        out[name] = int(value.split()[0]) * 1024
    return out


def status_field(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field}")


def worker(root: str, kind: str, shared: bool) -> None:
    """Child mode: report PSS before loading, load the snapshot, search, report, wait for the parent."""
    import faiss  # noqa: F401  (the library itself is not index memory: loaded before the first reading)

    from vectors.index.holder import release_free_memory

    release_free_memory()
    pid = os.getpid()
    before = smaps_rollup(pid)["Pss"]
    rss_before = status_field(pid, "VmRSS")
    # VmHWM cannot be reset without privileges here; the growth of the peak over the RSS before loading is the
    # load peak (the interpreter's own peak happens before this point and is lower than the load's).
    holder = IndexHolder(SnapshotSource(), snapshot_root=Path(root), dimension_of=lambda v: D, config=_config(kind),
                         share_snapshots=shared)
    version = holder.prepare("v4")
    assert version.backend == "faiss" and version.shared == shared, (version.backend, version.shared)
    queries = np.random.default_rng(pid).standard_normal((20, D), dtype=np.float32)
    for query in queries:
        holder.search("v4", query[None, :], 10)
    print(f"READY {before} {rss_before} {status_field(pid, 'VmHWM')}", flush=True)
    sys.stdin.readline()


def measure(root: Path, kind: str, shared: bool, workers: int) -> dict:
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(root), kind, "1" if shared else "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(workers)]
    try:
        reports = []
        for proc in procs:
            line = proc.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError(f"worker failed: {line}")
            reports.append([int(v) for v in line[1:]])
        time.sleep(0.2)
        rollups = [smaps_rollup(p.pid) for p in procs]
        growth = [r["Pss"] - rep[0] for r, rep in zip(rollups, reports)]
        peaks = [rep[2] - rep[1] for rep in reports]
        return {"pss_growth_total": sum(growth), "pss_growth": growth, "peak_max": max(peaks),
                "private_dirty": [r["Private_Dirty"] for r in rollups]}
    finally:
        for proc in procs:
            try:
                proc.stdin.write("\n")
                proc.stdin.flush()
            except BrokenPipeError:
                pass
        for proc in procs:
            proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--kinds", default="flat,hnsw")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="100k vectors")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.worker[2] == "1")
        return
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    mib = 1024 * 1024
    print(f"{args.workers} workers, d={D}; PSS growth over each worker's PSS before loading, summed; ratio against "
          f"one private copy in the same run")
    print(f"{'n':>9} {'kind':>5} {'mode':>8} {'workers':>7} {'total PSS MiB':>13} {'x one copy':>10} "
          f"{'per worker MiB':>28} {'load peak MiB':>13}")
    for n in sizes:
        for kind in args.kinds.split(","):
            with tempfile.TemporaryDirectory(prefix="cadml-shm-bench-") as tmp:
                root = Path(tmp)
                started = time.perf_counter()
                manifest = build_snapshot(SnapshotSource(n), feature_version="v4", snapshot_root=root, dimension=D,
                                          config=_config(kind))
                build = time.perf_counter() - started
                size = sum(p.stat().st_size for p in (root / "v4").iterdir())
                one = None
                for mode, shared, count in (("private", False, 1), ("private", False, args.workers),
                                            ("shared", True, 1), ("shared", True, args.workers)):
                    result = measure(root, kind, shared, count)
                    one = one or result["pss_growth_total"]  # the first row: one private copy
                    per = ", ".join(f"{g / mib:.1f}" for g in result["pss_growth"])
                    print(f"{n:>9} {kind:>5} {mode:>8} {count:>7} {result['pss_growth_total'] / mib:>13.1f} "
                          f"{result['pss_growth_total'] / one:>10.2f} {per:>28} {result['peak_max'] / mib:>13.1f}",
                          flush=True)
                print(f"{'':>9} {kind:>5} snapshot {manifest.count:,} vectors, files {size / mib:.1f} MiB, raw vectors "
                      f"{n * D * 4 / mib:.1f} MiB, built in {build:.1f} s")


if __name__ == "__main__":
    main()
