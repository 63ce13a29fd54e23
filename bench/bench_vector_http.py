"""HTTP similarity latency and throughput: gunicorn with 2 workers over 100k vectors.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_vector_http.py [--vectors 100000] [--requests 3000]
        [--concurrency 8] [--database-url postgres://postgres@127.0.0.1:5432/cadml_vectors_bench]

Loads the vectors through the bulk service, publishes a snapshot (index_rebuild), starts
``gunicorn -c gunicorn.conf.py`` (2 workers, each loading the snapshot after fork) on a free loopback port and sends
a fixed number of ``POST /api/v1/vectors/similarity/`` requests (k=10, random query vectors) from a pool of
threads with keep-alive sessions, bounded by a deadline. ``REDIS_URL`` defaults to the local Redis (db 7), as in
production, so the throttle counters are not database writes. Prints p50/p90/p99 latency and requests per second.
The load generator runs on the same 2-core machine as the server, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from vector_bench_env import DEFAULT_DATABASE, ROOT, bench_environment, drop_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_load(base, headers, queries, total, concurrency, deadline_seconds, n_vectors) -> None:
    import requests

    latencies: list[float] = []
    failures: dict[int, int] = {}
    lock = threading.Lock()
    next_index = iter(range(total))
    deadline = time.monotonic() + deadline_seconds

    def worker():
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            t0 = time.perf_counter()
            resp = session.post(base + "/api/v1/vectors/similarity/",
                                json={"feature_version": "v4", "vector": queries[i % len(queries)], "k": 10},
                                headers=headers, timeout=30)
            elapsed = time.perf_counter() - t0
            with lock:
                if resp.status_code == 200:
                    latencies.append(elapsed)
                else:
                    failures[resp.status_code] = failures.get(resp.status_code, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t_start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e3

    print(f"gunicorn 2 workers, {n_vectors:,} vectors x 24, k=10, {concurrency} client threads: "
          f"{len(latencies):,} ok / {sum(failures.values())} failed {failures or ''}")
    print(f"  p50 {pct(50):.2f} ms  p90 {pct(90):.2f} ms  p99 {pct(99):.2f} ms  "
          f"mean {statistics.mean(latencies) * 1e3:.2f} ms  throughput {len(latencies) / wall:.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1500, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,2,8", help="client thread counts, one run each")
    parser.add_argument("--deadline", type=float, default=180.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    args = parser.parse_args()
    os.environ["CADML_THROTTLE_DEFAULT"] = "100000000/min"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")  # production-like: throttle counters in Redis
    env = bench_environment(args.database_url)
    import requests

    from cadml_site.api.services import api_key_create
    from vectors.services import index_rebuild, vector_bulk_upsert

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.vectors, 24), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, args.vectors, 10_000):
        vector_bulk_upsert(feature_version="v4", items=[
            {"key": f"part-{i:07d}", "values": vectors[i].tolist(), "meta": {"part_type": f"t{i % 7}"}}
            for i in range(start, min(start + 10_000, args.vectors))])
    index_rebuild(feature_version="v4", actor="bench", reason="snapshot for the workers")
    print(f"loaded {args.vectors:,} vectors and published a snapshot in {time.perf_counter() - started:.1f} s")
    _, secret = api_key_create(name="bench")
    from vectors.selectors import vector_similarity_search

    selector_queries = rng.standard_normal((300, 24), dtype=np.float32).tolist()
    vector_similarity_search(feature_version="v4", vector=selector_queries[0], k=10)  # loads the index
    selector_times = []
    for q in selector_queries:
        t0 = time.perf_counter()
        vector_similarity_search(feature_version="v4", vector=q, k=10)
        selector_times.append(time.perf_counter() - t0)
    print(f"in-process selector vector_similarity_search (no HTTP): p50 "
          f"{statistics.median(selector_times) * 1e3:.2f} ms over {len(selector_times)} queries")

    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT,
        env={**env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(base + "/api/v1/health/live/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not come up")
        headers = {"X-API-Key": secret}
        queries = rng.standard_normal((args.requests, 24), dtype=np.float32).tolist()
        warm = requests.Session()
        for q in queries[:40]:  # both workers answer at least once
            resp = warm.post(base + "/api/v1/vectors/similarity/", json={"feature_version": "v4", "vector": q},
                             headers=headers, timeout=30)
            assert resp.status_code == 200, resp.text[:300]
            assert resp.json()["backend"] == "faiss", resp.json()

        floor = requests.Session()
        floor_times = []
        for _ in range(200):
            t0 = time.perf_counter()
            floor.get(base + "/api/v1/health/live/", timeout=30)
            floor_times.append(time.perf_counter() - t0)
        print(f"HTTP floor (GET /api/v1/health/live/, sequential): p50 {statistics.median(floor_times) * 1e3:.2f} ms")
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            run_load(base, headers, queries, args.requests, concurrency, args.deadline, args.vectors)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
