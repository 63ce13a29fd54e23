"""Vector search benchmark: our in-process path against bare Faiss on the same index, in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_vector_search.py [--sizes 100000,1000000] [--queries 200]

For each size (random 24-d vectors): single-query and batch-256 latency of
  * bare Faiss: ``IndexIDMap(IndexFlatIP).search`` on the very index our store holds,
  * ours: ``IndexHolder.search`` (normalisation, convergence check, tie ordering, id mapping) on that index,
  * degraded: the exact numpy path (``MemoryStore``) over the same vectors,
then, at the largest size, HNSW build time, recall@10 against the exact top-10 and latency for a few efSearch
values, and the resident memory of a process holding the flat index (measured in a fresh subprocess).
Django-free: the holder reads an in-process source (a dict), so the figures are the search path itself.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from vectors.index.exact_search import exact_top_k  # noqa: E402
from vectors.index.faiss_store import FaissStore, IndexConfig  # noqa: E402
from vectors.index.holder import ChangeSet, IndexHolder, SourceState, release_free_memory  # noqa: E402
from vectors.index.memory_store import MemoryStore  # noqa: E402
from vectors.index.vector_math import normalized  # noqa: E402

D, K, BATCH = 24, 10, 256


class StaticSource:
    """A source whose rows never change: the holder's per-query convergence check is a dict read."""

    def __init__(self, ids, vectors):
        self.ids, self.vectors = ids, vectors

    def state(self, feature_version):
        return SourceState(generation=1, epoch=0, degraded=False, snapshot_generation=None)

    def load_all(self, feature_version):
        return ChangeSet(1, np.empty(0, np.int64), self.ids, self.vectors)

    def changes_since(self, feature_version, generation):
        return ChangeSet(1, np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, D), np.float32))

    def report_degraded(self, feature_version, reason, error):
        raise RuntimeError(f"unexpected degradation in the benchmark: {reason}: {error}")


CPU_MEDIANS: dict[str, float] = {}  # the last ``interleaved`` call's median CPU seconds per path


def interleaved(paths: dict, inputs: list, rounds: int = 1) -> dict[str, float]:
    """Median wall seconds per call of each path, the paths taking turns on every input so that load from other
    processes on this shared machine hits them alike. The median CPU seconds of this thread per call are left in
    ``CPU_MEDIANS``: on a machine shared with other work the wall time includes waiting for a core, the CPU time
    does not (single-threaded calls: OMP_NUM_THREADS=1)."""
    names = list(paths)
    for name in names:  # warm-up
        paths[name](inputs[0])
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for i, item in enumerate(inputs):
            order = names[(i + r) % len(names):] + names[:(i + r) % len(names)]
            for name in order:
                cpu_started = time.thread_time()
                started = time.perf_counter()
                paths[name](item)
                times[name].append(time.perf_counter() - started)
                cpu[name].append(time.thread_time() - cpu_started)
    CPU_MEDIANS.clear()
    CPU_MEDIANS.update({name: statistics.median(values) for name, values in cpu.items()})
    return {name: statistics.median(values) for name, values in times.items()}


def single_latencies(search, queries) -> float:
    """Median seconds per single query."""
    return interleaved({"x": search}, [q[None, :] for q in queries])["x"]


def timed(fn, repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def memory_probe(n: int) -> None:
    """Subprocess mode: RSS growth of a process that loads n vectors into the holder (flat index)."""
    before = rss_bytes()
    rng = np.random.default_rng(1)
    ids = np.arange(1, n + 1, dtype=np.int64)
    holder = IndexHolder(StaticSource(ids, rng.standard_normal((n, D), dtype=np.float32)),
                         snapshot_root=Path("/nonexistent"), dimension_of=lambda v: D,
                         config=IndexConfig(hnsw_threshold=10**12))
    holder.prepare("v4")
    holder.source = None  # the rows came from the database; the process keeps only the index
    gc.collect()
    release_free_memory()
    after = rss_bytes()
    raw = n * D * 4
    print(f"MEMORY n={n} raw_bytes={raw} rss_growth={after - before} ratio={(after - before) / raw:.2f}")


def bench_size(n: int, n_queries: int, rng) -> dict:
    ids = np.arange(1, n + 1, dtype=np.int64)
    raw = rng.standard_normal((n, D), dtype=np.float32)
    vectors = normalized(raw)
    queries = rng.standard_normal((max(n_queries, 2 * BATCH), D), dtype=np.float32)
    nq = normalized(queries)

    holder = IndexHolder(StaticSource(ids, raw), snapshot_root=Path("/nonexistent"), dimension_of=lambda v: D,
                         config=IndexConfig(hnsw_threshold=10**12))
    holder.prepare("v4")
    index = holder.loaded()["v4"].store.index  # the very index our path searches
    memory = MemoryStore(D, ids, vectors)

    # correctness on the way: ours and degraded equal the exact top-k
    check = holder.search("v4", queries[:20], K).hits
    exact = exact_top_k(vectors, ids, nq[:20], K)
    assert all(a.ids.tolist() == b.ids.tolist() for a, b in zip(check, exact))

    single = interleaved({
        "bare_faiss": lambda q: index.search(normalized(q), K),
        "ours": lambda q: holder.search("v4", q, K),
        "degraded_numpy": lambda q: memory.search(normalized(q), K),
    }, [q[None, :] for q in queries[:n_queries]])
    single_cpu = dict(CPU_MEDIANS)
    rounds = 5 if n <= 200_000 else 2
    batch = {name: seconds / BATCH for name, seconds in interleaved({
        "bare_faiss": lambda b: index.search(normalized(b), K),
        "ours": lambda b: holder.search("v4", b, K),
        "degraded_numpy": lambda b: memory.search(normalized(b), K),
    }, [queries[:BATCH], queries[BATCH:2 * BATCH]], rounds=rounds).items()}
    return {"n": n, "single": single, "single_cpu": single_cpu, "batch": batch, "vectors": vectors, "ids": ids,
            "nq": nq}


def bench_hnsw(result: dict, n_queries: int, m: int, ef_construction: int, ef_values: list[int]) -> None:
    vectors, ids, nq = result["vectors"], result["ids"], result["nq"][:n_queries]
    started = time.perf_counter()
    store = FaissStore.build(faiss, D, ids, vectors,
                             IndexConfig(hnsw_threshold=1, hnsw_m=m, hnsw_ef_construction=ef_construction))
    build = time.perf_counter() - started
    exact = [set(h.ids.tolist()) for h in exact_top_k(vectors, ids, nq, K)]
    print(f"\nHNSW n={result['n']:,} M={m} efConstruction={ef_construction}: build {build:.1f} s")
    print(f"{'efSearch':>9} {'recall@10':>10} {'single p50 ms':>14} {'batch-256 ms/query':>19}")
    for ef in ef_values:
        store.config = IndexConfig(hnsw_threshold=1, hnsw_m=m, hnsw_ef_search=ef)
        store.index.hnsw.efSearch = ef
        got = store.search(nq, K)
        recall = float(np.mean([len(set(g.ids.tolist()) & e) / K for g, e in zip(got, exact)]))
        single = single_latencies(lambda q: store.search(q, K), nq)
        batch = statistics.median(timed(lambda: store.search(nq[:BATCH], K), 3)) / BATCH
        print(f"{ef:>9} {recall:>10.4f} {single * 1e3:>14.3f} {batch * 1e3:>19.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hnsw-m", type=int, default=16)
    parser.add_argument("--hnsw-ef-construction", type=int, default=40)
    parser.add_argument("--hnsw-ef", default="64,128,256")  # the settings default is 256
    parser.add_argument("--skip-hnsw", action="store_true")
    parser.add_argument("--memory-probe", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    print(f"faiss {faiss.__version__}, numpy {np.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"d={D}, k={K}")
    rng = np.random.default_rng(0)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        result = bench_size(n, args.queries, rng)
        results.append(result)
        s, c, b = result["single"], result["single_cpu"], result["batch"]
        print(f"\nn={n:,}  (medians; batch figures are per query; single cpu = CPU time of the calling thread)")
        print(f"{'path':>15} {'single ms':>10} {'x faiss':>8} {'single cpu ms':>14} {'x faiss':>8} "
              f"{'batch-256 ms/q':>15} {'x faiss':>8}")
        for path in ("bare_faiss", "ours", "degraded_numpy"):
            print(f"{path:>15} {s[path] * 1e3:>10.3f} {s[path] / s['bare_faiss']:>8.2f} "
                  f"{c[path] * 1e3:>14.3f} {c[path] / c['bare_faiss']:>8.2f} "
                  f"{b[path] * 1e3:>15.4f} {b[path] / b['bare_faiss']:>8.2f}")
        print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if not args.skip_hnsw:
        bench_hnsw(results[-1], args.queries, args.hnsw_m, args.hnsw_ef_construction,
                   [int(v) for v in args.hnsw_ef.split(",")])
    for result in results:
        del result["vectors"]
    gc.collect()
    for n in [r["n"] for r in results]:
        out = subprocess.run([sys.executable, __file__, "--memory-probe", str(n)], capture_output=True, text=True,
                             check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(out.stdout.strip())


if __name__ == "__main__":
    main()
