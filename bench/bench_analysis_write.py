"""The analyze service in process, this checkout against another (issue 14: one statement for an analysis's writes).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analysis_write.py --baseline-root /tmp/before [--calls 400]
        [--rounds 3] [--database-url postgres://postgres@127.0.0.1:5432/cadml_analysis_write_bench | --sqlite]

Calls ``analysis.services.analysis_create`` on a 12-triangle binary STL (classify=false, no similar parts) in a fresh
interpreter per code root and round, alternated (baseline, this checkout, baseline, ...), each on its own fresh
database: Postgres (the server on this machine, a round trip per statement) or, with ``--sqlite``, the embedded
default's SQLite. Four cases: new content (a new sha256 every call: looked up, parsed in the parse pool, its original
stored, inserted) and known content (the same bytes: looked up, features from the cache), each with
``register_vector`` false and true. Statements are those that went through Django's cursor (on SQLite a
transaction's BEGIN is one; on Postgres psycopg sends BEGIN and COMMIT itself: one statement in autocommit is one
round trip). The thumbnail is not queued (``thumbnail_enqueue`` replaced by a no-op in both
codes): what runs after the response is not the write's. Prints per case the median wall time, the mean CPU time and
the statements per call of each code, and this checkout's ratio against the baseline (median over the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = (("new content, register_vector=false", "new", False), ("new content, register_vector=true", "new", True),
         ("known content, register_vector=false", "known", False), ("known content, register_vector=true", "known", True))

CHILD = r"""
import json, os, random, statistics, struct, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(sys.argv[2], "bench"))

def main():
    from vector_bench_env import bench_environment, drop_database
    database_url, calls = sys.argv[3], int(sys.argv[4])
    bench_environment(database_url, code_root=sys.argv[1], var_prefix="cadml-analysis-write-bench-")
    from django.db import connection
    import analysis.services as analysis_services
    import features.services as feature_services
    feature_services.thumbnail_enqueue = lambda **kwargs: None  # the write, not what runs after it
    from bench_request_overhead import tiny_stl
    out = {}
    variant = 0
    for label, content, register in json.loads(sys.argv[5]):
        known = tiny_stl(10 ** 6 + len(out))
        walls, cpus, statements = [], [], []
        executed = []

        def count(execute, sql, params, many, context):
            executed.append(sql)
            return execute(sql, params, many, context)

        for i in range(calls + 40):
            variant += 1
            data = tiny_stl(variant) if content == "new" else known
            executed.clear()
            with connection.execute_wrapper(count):
                started, cpu = time.perf_counter(), time.process_time()
                analysis_services.analysis_create(data=data, name="box.stl", register_vector=register,
                                                  classify=False)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            if i >= 40:  # the first calls warm the pool, the caches and the connection
                walls.append(wall * 1000)
                cpus.append(cpu * 1000)
                statements.append(len(executed))
        out[label] = {"wall": statistics.median(walls), "cpu": statistics.mean(cpus),
                      "statements": statistics.median(statements)}
    drop_database(database_url)
    print("RESULT " + json.dumps(out))

if __name__ == "__main__":
    main()
"""


def run_child(code_root: Path, database_url: str, calls: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(CHILD)
        script = handle.name
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env.pop("DATABASE_URL", None)
        done = subprocess.run([sys.executable, script, str(code_root), str(ROOT), database_url, str(calls),
                               json.dumps([[label, content, register] for label, content, register in CASES])],
                              capture_output=True, text=True, env=env, cwd=str(code_root), check=False)
    finally:
        os.unlink(script)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise SystemExit(f"{code_root}: no result\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-root", required=True, help="the code to compare with (e.g. an export of main)")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/cadml_analysis_write_bench")
    parser.add_argument("--sqlite", action="store_true", help="the embedded default's SQLite instead of Postgres")
    args = parser.parse_args()
    roots = {"baseline": Path(args.baseline_root).resolve(), "this checkout": ROOT}
    results: dict[str, list[dict]] = {name: [] for name in roots}
    for round_ in range(args.rounds):
        for name, root in roots.items():
            url = ("sqlite" if args.sqlite else args.database_url)
            if args.sqlite:
                url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="cadml-analysis-write-sqlite-"), "db.sqlite3")
            results[name].append(run_child(root, url, args.calls))
            print(f"round {round_ + 1}: {name} done", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"analysis_create in process, {'SQLite' if args.sqlite else 'Postgres'}, {args.calls} calls per case, "
          f"{args.rounds} rounds alternated, load average {load:.1f}; baseline {roots['baseline']}")
    for label, _content, _register in CASES:
        line = []
        for name in roots:
            walls = [r[label]["wall"] for r in results[name]]
            cpus = [r[label]["cpu"] for r in results[name]]
            line.append((statistics.median(walls), statistics.median(cpus), results[name][0][label]["statements"]))
        (bw, bc, bs), (aw, ac, as_) = line
        print(f"  {label:38s} baseline {bw:6.3f} ms wall {bc:6.3f} ms CPU {bs:3.0f} statements | "
              f"this checkout {aw:6.3f} ms wall {ac:6.3f} ms CPU {as_:3.0f} statements | "
              f"ratio {aw / bw:4.2f}x wall, {ac / bc:4.2f}x CPU")


if __name__ == "__main__":
    main()
