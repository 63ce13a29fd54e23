"""The embedded render of a new file's thumbnail, in process: from what the request held against by the file's id.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_thumbnail_job.py [--renders 300] [--sample dxf/cadquery__gear.dxf]
        [--database-url postgres://postgres@127.0.0.1:5432/cadml_thumbnail_job_bench]

Without a broker every new file's thumbnail is rendered in the web process after its response (the thumbnail runner's
thread, `CADML_EMBEDDED_THUMBNAILS=background`). That job used to be `cad_file_thumbnail_render(cad_file_id=...)`:
the row's SELECT, the original read back from the storage, the render in the parse pool, the PNG stored, the UPDATE.
A new file's job is now `new_file_thumbnail_render(NewFileThumbnail)` with what the request held: the render, the
PNG stored, the UPDATE. This bench ingests fresh rows (a 12-triangle binary STL with a new header each, or a shared
sample with `--sample`, made unique by trailing blank lines) without queuing their thumbnails, then renders them
both ways, alternated (which goes first swaps every round), each on a row that has no thumbnail yet, in this process
with its own parse pool, on a fresh database (Postgres by default). Prints the median wall time, this process's
mean CPU time (the web side: the pool worker's render is not in it) and the statements of each, and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from vector_bench_env import bench_environment, drop_database  # bench/, beside this script

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cadml_thumbnail_job_bench"
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "cad-samples"
WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=300, help="renders of each kind (after 20 warm-up rounds)")
    parser.add_argument("--sample", default=None, help="a shared sample (under ../shared/cad-samples) instead of the STL")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    args = parser.parse_args()
    bench_environment(args.database_url, var_prefix="cadml-thumbnail-job-bench-", unset=("REDIS_URL",))

    from django.db import connection

    import features.services as services
    from bench_analyze_http import unique_variant
    from bench_request_overhead import tiny_stl

    services.thumbnail_enqueue = lambda **kwargs: None  # the rows are rendered here, not after their commit
    if args.sample:
        name = Path(args.sample).name
        original = (SAMPLES / args.sample).read_bytes()
        make = lambda i: unique_variant(original, name, i + 1)  # noqa: E731
    else:
        name, make = "box.stl", tiny_stl
    rounds = args.renders + WARM_UP
    rows = []
    for i in range(2 * rounds):
        data = make(i)
        rows.append((services.cad_file_ingest(data=data, name=name).cad_file, data))
    print(f"{name}: {len(rows[0][1]):,} bytes, {2 * rounds} fresh rows on {connection.vendor}; thumbnails held up to "
          f"{services.THUMBNAIL_HELD_BYTES:,} bytes")

    def by_id(cad_file, data):
        return services.cad_file_thumbnail_render(cad_file_id=cad_file.pk)

    def held(cad_file, data):
        return services.new_file_thumbnail_render(services.NewFileThumbnail.of(cad_file, data))

    results = {"by id (before)": ([], [], []), "from what the request held (now)": ([], [], [])}
    jobs = list(zip(results.values(), (by_id, held)))
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    for i in range(rounds):
        order = jobs if i % 2 == 0 else jobs[::-1]
        for k, ((walls, cpus, statements), job) in enumerate(order):
            cad_file, data = rows[2 * i + k]
            executed.clear()
            with connection.execute_wrapper(count):
                started, cpu = time.perf_counter(), time.process_time()
                outcome = job(cad_file, data)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert outcome["status"] == "rendered", outcome
            if i >= WARM_UP:
                walls.append(wall * 1000)
                cpus.append(cpu * 1000)
                statements.append(len(executed))
    summary = {label: (statistics.median(w), statistics.mean(c), statistics.median(s))
               for label, (w, c, s) in results.items()}
    for label, (wall, cpu, statements) in summary.items():
        print(f"  {label:34s} wall p50 {wall:7.3f} ms   web-side CPU mean {cpu:6.3f} ms   statements {statements:g}")
    (wall_before, cpu_before, _), (wall_now, cpu_now, _) = summary.values()
    print(f"  now / before: wall {wall_now / wall_before:.2f}x, web-side CPU {cpu_now / cpu_before:.2f}x")
    connection.close()
    drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
