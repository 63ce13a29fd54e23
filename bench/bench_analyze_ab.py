"""Two servers side by side, requests alternated: `GET health/live/`, `POST analyze/` of a tiny STL (new content, then
known content) and, with `--vectors`, `POST vectors/similarity/`; one client, the latency of each server at the same
moments. The two servers are two checkouts (`--baseline-root`), or one checkout under two gunicorn configurations
(`--baseline-gunicorn-args`, `--gunicorn-args`), or both.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analyze_ab.py --baseline-root /tmp/before [--requests 600]
        [--broker-url amqp://guest:guest@127.0.0.1:5672//] [--database-url postgres://.../cadml_ab_bench]
        [--dxf-rounds 5]
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analyze_ab.py --vectors 100000 \
        --gunicorn-args "--worker-class gthread --threads 1 --keep-alive 5"

On a shared machine the latency of one server moves by a factor of two from one minute to the next, so a before and an
after run one after the other compare two moments, not two codes. Here both servers run at once (a private gunicorn
each, 2 workers, `bench_analyze_http.start_server`, on one fresh Postgres database), and each round sends the same kind
of request to one then the other, the order swapped every round: the medians, and the median of the per-round
differences (this checkout minus the baseline), compare requests made within milliseconds of each other. The tiny STL is
the 12-triangle box of `bench_request_overhead` with a new header per request (new content: looked up, parsed,
inserted), then one box posted again and again (known content: parsed once, by whichever server had it first),
`register_vector=false`, `classify=false`; then another box posted again and again with `register_vector=true` (known
content whose vector each request registers again: the default call). With `--broker-url` both servers publish their
thumbnail tasks to that broker (no worker: the messages are purged at the end); without it they render them in process
after the response (the embedded default). `--dxf-rounds N` also posts each text DXF sample N times to both servers (new
content each time), with `ezdxf.readfile` of the same file in this process in the same round: issue 14's DXF row for
both codes at the same moments. `--vectors N` registers N random v4 vectors (and publishes their snapshot) in the shared
database before the servers start; the similarity requests ask for the 10 nearest of one of 64 random queries. The
client is a `requests.Session` per server: it keeps its connection alive when the server's workers do (gunicorn's sync
workers close every connection; gthread workers keep them for `--keep-alive` seconds).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

from bench_analyze_http import start_server, stop_server  # bench/, beside this script
from bench_dxf_parse import HTTP_GOAL, purge_broker_queue, text_dxf_files
from bench_request_overhead import register_vectors, similarity_request, tiny_stl
from vector_bench_env import bench_environment, drop_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cadml_ab_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-root", default=str(ROOT),
                        help="the other checkout (e.g. git archive of main); default: this one")
    parser.add_argument("--gunicorn-args", default=None, help="gunicorn settings of this checkout's server")
    parser.add_argument("--baseline-gunicorn-args", default=None, help="gunicorn settings of the baseline's server")
    parser.add_argument("--vectors", type=int, default=0, help="also time similarity calls over this many vectors")
    parser.add_argument("--requests", type=int, default=600, help="rounds of each path (a request to each server)")
    parser.add_argument("--broker-url", default=None)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--dxf-rounds", type=int, default=0,
                        help="also post each text DXF sample this many times to both servers (new content each time), "
                             "alternated, with ezdxf.readfile of the same file in this process in the same round")
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR",
                                                            str(ROOT.parent / "shared" / "cad-samples")))
    args = parser.parse_args()
    roots = {"baseline": Path(args.baseline_root).resolve(), "this checkout": ROOT}
    bench_environment(args.database_url, var_prefix="cadml-ab-bench-", unset=("REDIS_URL",),
                      extra_env={"CADML_THROTTLE_DEFAULT": "100000/min", "CADML_THROTTLE_UPLOAD": "100000/min"})
    gunicorn_args = {"baseline": args.baseline_gunicorn_args, "this checkout": args.gunicorn_args}
    servers = {}
    try:
        rng = register_vectors(args.vectors) if args.vectors else None
        queries = [rng.standard_normal(24).tolist() for _ in range(64)] if rng is not None else []
        for name, root in roots.items():
            servers[name] = start_server(workers=2, root=root, broker_url=args.broker_url,
                                         key_name=f"bench-{len(servers)}", gunicorn_args=gunicorn_args[name])
        variants = itertools.count()
        asked = itertools.count()

        def live(name):
            _server, base, session, _log = servers[name]
            assert session.get(f"{base}/api/v1/health/live/").status_code == 200

        def analyze_tiny_stl(name, data: bytes, register_vector: str = "false"):
            _server, base, session, _log = servers[name]
            response = session.post(f"{base}/api/v1/analyze/", files={"file": ("box.stl", data)},
                                    data={"register_vector": register_vector, "classify": "false"})
            assert response.status_code == 201, response.text
            return response

        def analyze_new(name):
            analyze_tiny_stl(name, tiny_stl(next(variants)))

        def analyze_known(name):  # one content for both servers (one database): looked up, parsed once
            response = analyze_tiny_stl(name, tiny_stl(-1))
            assert response.json()["reused_file"] in (True, False), response.text

        def analyze_known_registered(name):  # another content, its vector registered (the default call) every time
            response = analyze_tiny_stl(name, tiny_stl(-2), register_vector="true")
            assert response.json()["vector"]["registered"] is True, response.text

        def similarity(name):
            _server, base, session, _log = servers[name]
            response = session.post(f"{base}/api/v1/vectors/similarity/", json=similarity_request(queries, asked))
            assert response.status_code == 200, response.text

        names = list(servers)
        for name in names:
            print(f"{name}: {roots[name]}, gunicorn settings: {gunicorn_args[name] or 'gunicorn.conf.py alone'}")
        print(f"both servers: 2 gunicorn workers, Postgres, "
              f"{'tasks published to ' + args.broker_url.split('://')[0] if args.broker_url else 'embedded thumbnails'}"
              f"; {args.requests} rounds per path; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        medians = {}
        paths = [("health/live", live), ("analyze tiny STL, new content", analyze_new),
                 ("analyze tiny STL, known content", analyze_known),
                 ("known content, vector registered", analyze_known_registered)]
        if args.vectors:
            paths.append((f"similarity, {args.vectors:,} vectors", similarity))
        for label, call in paths:
            times = {name: [] for name in names}
            for round_ in range(args.requests + 30):
                order = names if round_ % 2 == 0 else names[::-1]
                for name in order:
                    started = time.perf_counter()
                    call(name)
                    if round_ >= 30:  # warm-up rounds
                        times[name].append(time.perf_counter() - started)
            medians[label] = {name: statistics.median(values) for name, values in times.items()}
            difference = statistics.median(a - b for a, b in zip(times["this checkout"], times["baseline"]))
            base_ms, this_ms = medians[label]["baseline"] * 1e3, medians[label]["this checkout"] * 1e3
            print(f"{label:<32} p50 baseline {base_ms:7.3f} ms   this checkout {this_ms:7.3f} ms   "
                  f"ratio {this_ms / base_ms:.2f}x   median per-round difference {difference * 1e3:+.3f} ms")
        for content in ("new", "known"):
            over = {name: (medians[f"analyze tiny STL, {content} content"][name] - medians["health/live"][name]) * 1e3
                    for name in names}
            print(f"{content} content over health/live: baseline +{over['baseline']:.3f} ms, "
                  f"this checkout +{over['this checkout']:.3f} ms")
        if args.dxf_rounds:
            dxf_side_by_side(servers, text_dxf_files(Path(args.samples)), args.dxf_rounds)
    finally:
        for server, *_rest in servers.values():
            stop_server(server)
        if args.broker_url:
            print(f"{purge_broker_queue(args.broker_url)} task(s) left in the broker's queue purged")
        drop_database(args.database_url)


def dxf_side_by_side(servers: dict, files: list[Path], rounds: int) -> None:
    """Issue 14's DXF row for both servers at the same moments: each round takes each text DXF in turn, posts it to
    both servers (the order swapped every round; trailing blank lines make its content new for each request, so
    every request parses, `classify=false`) and reads it with `ezdxf.readfile` in this process. The sums over the
    files of the per-file medians, and each server's ratio against `readfile`'s sum (goal: <= 1.2x)."""
    import ezdxf

    names = list(servers)
    variants = itertools.count(1)
    times = {name: {path: [] for path in files} for name in [*names, "readfile"]}

    def post(name: str, path: Path) -> float:
        _server, base, session, _log = servers[name]
        data = path.read_bytes() + b"\n" * next(variants)  # a new sha256: parsed, not reused
        started = time.perf_counter()
        response = session.post(f"{base}/api/v1/analyze/", files={"file": (path.name, data)},
                                data={"classify": "false"}, timeout=120)
        seconds = time.perf_counter() - started
        assert response.status_code == 201 and not response.json()["reused_file"], response.text
        return seconds

    for path in files:  # warm-up: every worker, fonts, imports
        for name in names:
            post(name, path)
            post(name, path)
    for round_ in range(rounds):
        for index, path in enumerate(files):
            order = names if (round_ + index) % 2 == 0 else names[::-1]
            for name in order:
                times[name][path].append(post(name, path))
            started = time.perf_counter()
            ezdxf.readfile(path)
            times["readfile"][path].append(time.perf_counter() - started)
    totals = {name: sum(statistics.median(values) for values in per_file.values()) for name, per_file in times.items()}
    print(f"POST analyze/ of the {len(files)} text DXF samples, {rounds} rounds, sum of per-file medians "
          f"(ezdxf.readfile of each file in this process in the same rounds): "
          f"readfile {totals['readfile'] * 1e3:.1f} ms")
    for name in names:
        print(f"  {name:<16} {totals[name] * 1e3:8.1f} ms   ratio {totals[name] / totals['readfile']:.2f}x "
              f"(goal <= {HTTP_GOAL}x)")


if __name__ == "__main__":
    sys.exit(main())
