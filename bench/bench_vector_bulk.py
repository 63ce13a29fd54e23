"""Bulk vector registration throughput, through the service and through the HTTP stack (in process).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_vector_bulk.py [--total 50000] [--batch 10000]
        [--database-url postgres://postgres@127.0.0.1:5432/cadml_vectors_bench]   (sqlite:///path also works)

The database named in the URL is dropped and created afresh. Prints vectors per second for new vectors and for
replacements (the same keys again), and for the same bulk POSTed to /api/v1/vectors/ with Django's test client
(JSON parsing, authentication, validation, the service, the response: everything but the socket).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from vector_bench_env import DEFAULT_DATABASE, bench_environment, drop_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    args = parser.parse_args()
    bench_environment(args.database_url)
    from django.test import Client

    from cadml_site.api.services import api_key_create
    from vectors.services import vector_bulk_upsert

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.total, 24), dtype=np.float32)
    items = [{"key": f"part-{i:07d}", "values": v.tolist(), "meta": {"part_type": f"t{i % 7}"}}
             for i, v in enumerate(vectors)]
    print(f"database {args.database_url.split('://')[0]}, {args.total:,} vectors x 24, bulks of {args.batch:,}")
    for label in ("service, new keys", "service, replacing"):
        started = time.perf_counter()
        for start in range(0, args.total, args.batch):
            vector_bulk_upsert(feature_version="v4", items=items[start:start + args.batch])
        seconds = time.perf_counter() - started
        print(f"{label:>22}: {args.total / seconds:>9,.0f} vectors/s ({seconds:.2f} s)")

    _, secret = api_key_create(name="bench")
    client = Client(HTTP_X_API_KEY=secret, HTTP_HOST="127.0.0.1")
    http_items = [{**item, "key": "http-" + item["key"]} for item in items]
    started = time.perf_counter()
    for start in range(0, args.total, args.batch):
        body = json.dumps({"feature_version": "v4", "vectors": http_items[start:start + args.batch]})
        resp = client.post("/api/v1/vectors/", body, content_type="application/json")
        assert resp.status_code == 201, resp.content[:500]
    seconds = time.perf_counter() - started
    print(f"{'HTTP POST, new keys':>22}: {args.total / seconds:>9,.0f} vectors/s ({seconds:.2f} s)")
    drop_database(args.database_url)


if __name__ == "__main__":
    main()
