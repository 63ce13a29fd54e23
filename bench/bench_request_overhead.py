"""Request overhead of the authenticated path, in process: SQL statements, latency and a cProfile summary.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_request_overhead.py [--requests 400] [--vectors 20000]
        [--database-url postgres://postgres@127.0.0.1:5432/cadml_overhead_bench] [--code-root PATH] [--profile]
        [--gunicorn]

Runs the Django stack in this process through ``django.test.Client`` (no socket, no gunicorn: the figures are the
framework and our code, not the network) against a fresh database: Postgres by default, with the database cache
that Postgres deployments without Redis use for the throttle counters. For each path it prints the median latency,
the median CPU time and the SQL statements per request, and the ratios against ``GET health/live/`` (no
credential) and, for the similarity call, against the same search called in process through the selector and against
the index alone (the store of the version this process holds: no database, no selector), and through the WSGI
application called as a WSGI server calls it (``WSGIHandler``: no socket, and none of the test client's own work);
these four are timed interleaved (one of each in turn), so that their ratios compare calls made at the same moment.
``--code-root`` runs another checkout's code (for example ``git archive main | tar -x -C /tmp/main``) on the same
kind of database, so that before and after come from the same script. ``--profile`` adds the cProfile summary of
the whoami requests and of the analyze requests (top functions by cumulative time).

The analyze paths post a 12-triangle binary STL with ``register_vector=false`` and ``classify=false``: "new content"
changes the STL header on every request (a new sha256: looked up, parsed, inserted, extracted), "known content"
posts the same bytes again (looked up, features from the cache, one analysis row). ``--gunicorn`` measures
``GET health/live/`` and both analyze paths over HTTP instead, against a private gunicorn with 2 workers
(``bench_analyze_http.start_server``) on the same kind of fresh database, and the server's CPU per request counted
until it is idle again (what runs after the responses, such as the embedded thumbnails, included); with
``--broker-url`` the server publishes its tasks (the thumbnails) to that broker, as a deployment with Celery workers
does, and renders none of them. ``--gunicorn`` also times the similarity call over HTTP (``--vectors`` registered
first, in the server's database) and, once the server has stopped, the same search through the selector in
this process. ``health/live`` and the similarity call are also timed with the standard library's ``http.client``
(interleaved with the ``requests`` calls): the same requests on new connections, without ``requests``' own work, so
that the client's share of the HTTP figures shows. The server logs each request's path and gunicorn's request time
(the environ, the application, the response written), and the bench prints their medians per path. Last, the
selector is timed again after this process slept 1, 3 and 10 ms before each call, as a worker sleeps in ``accept()``
between its requests.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import struct
import sys
import time
from pathlib import Path

from vector_bench_env import bench_environment, drop_database  # bench/, beside this script

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cadml_overhead_bench"


BOX_FACES = ((0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
             (1, 2, 6), (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7))


def tiny_stl(variant: int) -> bytes:
    """A closed 2 x 3 x 4 box of 12 triangles as a binary STL; ``variant`` only changes the header (the sha256)."""
    corners = [(0, 0, 0), (2, 0, 0), (2, 3, 0), (0, 3, 0), (0, 0, 4), (2, 0, 4), (2, 3, 4), (0, 3, 4)]
    records = b"".join(struct.pack("<12fH", 0.0, 0.0, 0.0, *corners[a], *corners[b], *corners[c], 0)
                       for a, b, c in BOX_FACES)
    return f"bench box {variant}".encode().ljust(80, b" ") + struct.pack("<I", len(BOX_FACES)) + records


def setup(database_url: str, code_root: Path) -> None:
    bench_environment(database_url, code_root=code_root, var_prefix="cadml-overhead-bench-",
                      extra_env={"CADML_THROTTLE_DEFAULT": "100000/min", "CADML_THROTTLE_UPLOAD": "100000/min"},
                      unset=("REDIS_URL",))


def timed(call, n: int) -> dict:
    """Median wall and CPU seconds and SQL statements per call over ``n`` calls (after 20 warm-up calls)."""
    return timed_together([call], n)[0]


def timed_together(calls, n: int) -> list[dict]:
    """``timed`` of each call, the calls alternating (a, b, c, a, b, c, ...) so that each sees the same machine."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        for call in calls:
            call()
    wall, cpu, statements = ([[] for _ in calls] for _ in range(3))
    for _ in range(n):
        for i, call in enumerate(calls):
            with CaptureQueriesContext(connection) as captured:
                c0, t0 = time.thread_time(), time.perf_counter()
                call()
                wall[i].append(time.perf_counter() - t0)
                cpu[i].append(time.thread_time() - c0)
            statements[i].append(len(captured))
            if os.environ.get("BENCH_SHOW_SQL") and len(statements[i]) == n:
                print(call.__name__, [q["sql"][:70] for q in captured.captured_queries])
    return [{"wall": statistics.median(w), "cpu": statistics.median(c), "sql": statistics.mean(q), "sql_max": max(q)}
            for w, c, q in zip(wall, cpu, statements)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--vectors", type=int, default=20_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--code-root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--gunicorn", action="store_true",
                        help="health/live and analyze over HTTP against a private gunicorn (2 workers)")
    parser.add_argument("--broker-url", default=None,
                        help="--gunicorn: publish the server's tasks (the thumbnails) to this broker instead of running "
                             "them in the server; no Celery worker is started, the run's messages are purged after")
    args = parser.parse_args()
    code_root = Path(args.code_root).resolve()
    setup(args.database_url, code_root)
    try:
        (run_gunicorn if args.gunicorn else run)(args, code_root)
    finally:
        try:
            from features.services import thumbnail_renders_wait
        except ImportError:  # --code-root of the code before thumbnails rendered after the response
            pass
        else:  # the renders still queued in this process need the database this run is about to drop
            thumbnail_renders_wait(timeout_seconds=60)
        drop_database(args.database_url)


def register_vectors(count: int):
    """``count`` random v4 vectors registered and indexed (a snapshot published); the generator, for the queries."""
    import numpy as np

    from vectors.services import index_rebuild, vector_bulk_upsert

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((count, 24), dtype=np.float32)
    for start in range(0, count, 5000):
        vector_bulk_upsert(feature_version="v4", items=[
            {"key": f"k{i:07d}", "values": vectors[i].tolist(), "meta": {"i": i}}
            for i in range(start, min(start + 5000, count))])
    index_rebuild(feature_version="v4", actor="bench", reason="bench")
    return rng


def wsgi_post_json(application, path: str, body: dict, headers: dict[str, str]) -> str:
    """POST ``body`` as JSON to the WSGI ``application`` as a WSGI server calls it (no socket, no test client); the
    status line, once the response has been read and closed."""
    raw = json.dumps(body).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw), "wsgi.errors": sys.stderr,
               "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
               "wsgi.multiprocess": True, "wsgi.run_once": False,
               **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}}
    status = []
    result = application(environ, lambda line, response_headers, exc_info=None: status.append(line))
    try:
        b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return status[0]


def similarity_request(queries: list, counter) -> dict:
    """The next similarity request, the queries taken in turn: the API's body and the selector's keyword arguments
    alike."""
    return {"feature_version": "v4", "vector": queries[next(counter) % len(queries)], "k": 10}


def run(args, code_root: Path) -> None:
    import numpy as np
    from django.test import Client

    from cadml_site.api.services import api_key_create
    from vectors.index.vector_math import normalized
    from vectors.runtime import index_holder
    from vectors.selectors import vector_similarity_search

    rng = register_vectors(args.vectors)
    _, secret = api_key_create(name="bench")
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_API_KEY=secret)
    anon = Client(HTTP_HOST="127.0.0.1")
    queries = [rng.standard_normal(24).astype(np.float32).tolist() for _ in range(64)]
    counter = iter(range(10**9))

    def similarity_http():
        response = client.post("/api/v1/vectors/similarity/", similarity_request(queries, counter),
                               content_type="application/json")
        assert response.status_code == 200, response.content

    def similarity_in_process():
        vector_similarity_search(**similarity_request(queries, counter))

    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()

    def similarity_wsgi():  # the application as gunicorn's worker calls it: no socket, no test client
        status = wsgi_post_json(application, "/api/v1/vectors/similarity/", similarity_request(queries, counter),
                                {"X-API-Key": secret})
        assert status.startswith("200"), status

    holder = index_holder()
    query_matrix = np.asarray(queries, np.float32)

    def index_alone():  # the store of the version this process holds: no database, no selector
        i = next(counter) % 64
        holder.loaded()["v4"].store.search(normalized(query_matrix[i:i + 1]), 10, None)

    def whoami():
        response = client.get("/api/v1/auth/whoami/")
        assert response.status_code == 200, response.content

    def live():
        assert anon.get("/api/v1/health/live/").status_code == 200

    variants = iter(range(10**9))

    def analyze(data: bytes):
        response = client.post("/api/v1/analyze/", {"file": named(data), "register_vector": "false",
                                                    "classify": "false"})
        assert response.status_code == 201, response.content

    def analyze_new():
        analyze(tiny_stl(next(variants)))

    def analyze_known():
        analyze(tiny_stl(-1))

    results = {}
    for name, call in (("health/live (no credential)", live), ("auth/whoami (API key)", whoami)):
        results[name] = timed(call, args.requests)
    # the similarity call over the stack, the selector and the index alone: interleaved, so the ratios compare calls
    # made on the same machine at the same moment
    together = ("vectors/similarity over the stack", "similarity, WSGI application", "similarity selector in process",
                "index search alone")
    for name, result in zip(together, timed_together([similarity_http, similarity_wsgi, similarity_in_process,
                                                      index_alone], args.requests)):
        results[name] = result
    for name, call in (("analyze tiny STL, new content", analyze_new),
                       ("analyze tiny STL, known content", analyze_known)):
        results[name] = timed(call, args.requests)
    print(f"code: {code_root}  database: {args.database_url.split('://')[0]}  vectors: {args.vectors:,}  "
          f"requests per path: {args.requests}  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'path':<36} {'p50 ms':>8} {'cpu ms':>8} {'SQL/request':>12} {'max':>5}")
    for name, r in results.items():
        print(f"{name:<36} {r['wall'] * 1e3:>8.3f} {r['cpu'] * 1e3:>8.3f} {r['sql']:>12.2f} {r['sql_max']:>5}")
    live_r, who = results["health/live (no credential)"], results["auth/whoami (API key)"]
    http, inproc = results["vectors/similarity over the stack"], results["similarity selector in process"]
    print(f"whoami over health/live: +{(who['wall'] - live_r['wall']) * 1e3:.3f} ms wall, "
          f"+{(who['cpu'] - live_r['cpu']) * 1e3:.3f} ms CPU")
    index_r = results["index search alone"]
    print(f"similarity over the stack / in process: {http['wall'] / inproc['wall']:.2f}x wall, "
          f"{http['cpu'] / inproc['cpu']:.2f}x CPU (interleaved calls)")
    wsgi_r = results["similarity, WSGI application"]
    print(f"similarity through the WSGI application / in process: {wsgi_r['wall'] / inproc['wall']:.2f}x wall, "
          f"{wsgi_r['cpu'] / inproc['cpu']:.2f}x CPU (without the test client)")
    print(f"similarity over the stack / the index alone: {http['wall'] / index_r['wall']:.2f}x wall; the stack adds "
          f"{(http['wall'] - inproc['wall']) * 1e3:.3f} ms to the selector, the selector "
          f"{(inproc['wall'] - index_r['wall']) * 1e3:.3f} ms to the index")
    for name in ("analyze tiny STL, new content", "analyze tiny STL, known content"):
        r = results[name]
        print(f"{name} over health/live: +{(r['wall'] - live_r['wall']) * 1e3:.3f} ms wall, "
              f"+{(r['cpu'] - live_r['cpu']) * 1e3:.3f} ms CPU")
    if args.profile:
        _print_profile(similarity_http, args.requests,
                       r"vectors/selectors|vectors/index/holder|vectors/api|cadml_site/api|backends/utils|"
                       r"rest_framework/views|rest_framework/serializers|core/handlers/base|test/client", 24,
                       "POST vectors/similarity/ (cumulative, filtered to our code, SQL, DRF, the handler)")
        _print_profile(whoami, args.requests,
                       r"authentication|throttling|backends/utils|cache/backends|views\.py|base\.py", 18,
                       "GET auth/whoami/ (cumulative, filtered to auth, throttle, SQL, cache)")
        for label, call in (("a new tiny STL", analyze_new), ("a known tiny STL", analyze_known)):
            _print_profile(call, args.requests,
                           r"analysis/|features/services|cachectl/services|vectors/selectors|backends/utils|"
                           r"db/models/query|db/transaction|parse_workers|multipartparser|rest_framework/views|"
                           r"rest_framework/serializers|core/handlers/base", 32,
                           f"POST analyze/ of {label} (cumulative, filtered to our code, SQL, transactions, the parse "
                           "pool, multipart, DRF)")


def _print_profile(call, requests: int, restriction: str, lines: int, title: str) -> None:
    """cProfile of `requests` calls, the cumulative table restricted to `restriction`."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(restriction, lines)
    print(f"\ncProfile of {requests} {title}:")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


def named(data: bytes):
    upload = io.BytesIO(data)
    upload.name = "box.stl"
    return upload


ACCESS_MARK = "BENCH-ACCESS"
PAUSES = (0.001, 0.003, 0.010)  # seconds asleep before each paced call of the selector


def server_times(log_path: Path) -> dict[str, list[float]]:
    """Seconds in the server per request path, from the access log lines ``run_gunicorn``'s server writes."""
    times: dict[str, list[float]] = {}
    for line in Path(log_path).read_text(errors="replace").splitlines():
        if line.startswith(ACCESS_MARK + " "):
            _mark, path, microseconds = line.split()
            times.setdefault(path, []).append(int(microseconds) / 1e6)
    return times


def run_gunicorn(args, code_root: Path) -> None:
    """health/live, the two analyze paths and the similarity call over HTTP, one request at a time, against a private
    gunicorn; then the similarity call in this process, once the server has stopped."""
    from bench_analyze_http import start_server, stop_server  # bench/, beside this script
    from process_cpu import process_cpu_by_kind, server_cpu_when_idle

    import numpy as np

    from vectors.selectors import vector_similarity_search

    rng = register_vectors(args.vectors)  # in the database the server uses too
    queries = [rng.standard_normal(24).astype(np.float32).tolist() for _ in range(64)]
    counter = iter(range(10**9))
    # gunicorn logs each request's path and its time in the server (from the parsed request to the response written)
    server, base, session, log_path = start_server(workers=2, root=code_root, broker_url=args.broker_url,
                                                   gunicorn_args=f"--access-logformat '{ACCESS_MARK} %(U)s %(D)s'")
    port = int(base.rsplit(":", 1)[1])
    variants = iter(range(10**9))

    def similarity_http():
        response = session.post(f"{base}/api/v1/vectors/similarity/", json=similarity_request(queries, counter))
        assert response.status_code == 200, response.text

    def lean(method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> None:
        """One request with the standard library's client, on a new connection (the sync workers close it)."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        finally:
            connection.close()

    def similarity_lean():
        lean("POST", "/api/v1/vectors/similarity/", json.dumps(similarity_request(queries, counter)).encode(),
             {"X-API-Key": session.headers["X-API-Key"], "Content-Type": "application/json"})

    def live_lean():
        lean("GET", "/api/v1/health/live/")

    def similarity_in_process():  # this process, on the same database
        vector_similarity_search(**similarity_request(queries, counter))

    def live():
        assert session.get(f"{base}/api/v1/health/live/").status_code == 200

    def analyze(data: bytes):
        response = session.post(f"{base}/api/v1/analyze/", files={"file": ("box.stl", data)},
                                data={"register_vector": "false", "classify": "false"})
        assert response.status_code == 201, response.text

    def analyze_new():
        analyze(tiny_stl(next(variants)))

    def analyze_known():
        analyze(tiny_stl(-1))

    try:
        results, server_cpu = {}, {}
        for name, call in (("health/live (no credential)", live), ("analyze tiny STL, new content", analyze_new),
                           ("analyze tiny STL, known content", analyze_known)):
            for _ in range(20):
                call()
            wall = []
            cpu_start = process_cpu_by_kind(session=server.pid, with_reaped_children=True)
            for _ in range(args.requests):
                t0 = time.perf_counter()
                call()
                wall.append(time.perf_counter() - t0)
            results[name] = statistics.median(wall)
            server_cpu_when_idle(server.pid)
            server_cpu[name] = {kind: (spent - cpu_start[kind]) / args.requests for kind, spent in
                                process_cpu_by_kind(session=server.pid, with_reaped_children=True).items()}
        for _ in range(50):  # both gunicorn workers load the index
            similarity_http()
        lean_calls = (similarity_http, similarity_lean, live, live_lean)
        http_p50, lean_p50, live_again_p50, live_lean_p50 = (
            result["wall"] for result in timed_together(lean_calls, args.requests))
    finally:
        stop_server(server)
        if args.broker_url:
            from bench_dxf_parse import purge_broker_queue

            print(f"{purge_broker_queue(args.broker_url)} task(s) left in the broker's queue purged")
    # the selector in this process once the server has stopped: interleaved with the HTTP calls it shared the cores
    # with the server's work on them (measured 2.6 ms against 1.0 ms alone)
    def selector_p50(pause: float) -> float:
        """Median seconds of the selector in this process, each call after `pause` seconds asleep (0: back to back)."""
        times = []
        for _ in range(args.requests):
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            similarity_in_process()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    for _ in range(50):
        similarity_in_process()
    inproc_p50 = selector_p50(0)
    # A served request finds its worker idle: the process slept in accept() since its last request. The same call in
    # process after such a sleep shows what the idle costs on this machine (not counted in the ratio above).
    after_pause = {pause: selector_p50(pause) for pause in PAUSES}
    tasks = (f"tasks published to a {args.broker_url.split('://')[0]} broker, no worker" if args.broker_url
             else "no broker: thumbnails rendered in the server after the response")
    print(f"code: {code_root}  database: {args.database_url.split('://')[0]}  gunicorn 2 workers, 1 client, {tasks}  "
          f"requests per path: {args.requests}  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    live_p50 = results["health/live (no credential)"]
    for name, p50 in results.items():
        over = "" if p50 is live_p50 else f"   +{(p50 - live_p50) * 1e3:.3f} ms over health/live"
        print(f"{name:<36} p50 {p50 * 1e3:8.3f} ms{over}")
    print("server CPU per request (gunicorn, its parse pools; until idle, so work done after the responses, such as "
          "thumbnails, counts): " + ", ".join(
              f"{name} {sum(cpu.values()) * 1e3:.1f} ms (gunicorn {cpu['server'] * 1e3:.1f}, parse pools "
              f"{cpu['parse pool'] * 1e3:.1f})" for name, cpu in server_cpu.items()))
    in_server = server_times(log_path)
    print("time in the server (gunicorn's request time: environ, the application, the response written), p50: "
          + ", ".join(f"{path} {statistics.median(times) * 1e3:.3f} ms" for path, times in sorted(in_server.items())))
    print(f"vectors/similarity over HTTP, {args.vectors:,} vectors   p50 {http_p50 * 1e3:8.3f} ms   "
          f"+{(http_p50 - live_again_p50) * 1e3:.3f} ms over health/live timed with it ({live_again_p50 * 1e3:.3f} ms)")
    print(f"  the same with http.client            p50 {lean_p50 * 1e3:8.3f} ms   "
          f"+{(lean_p50 - live_lean_p50) * 1e3:.3f} ms over health/live with http.client "
          f"({live_lean_p50 * 1e3:.3f} ms)")
    print(f"similarity selector in this process     p50 {inproc_p50 * 1e3:8.3f} ms   over HTTP / in process: "
          f"{http_p50 / inproc_p50:.2f}x with requests, {lean_p50 / inproc_p50:.2f}x with http.client (the selector "
          f"timed after the server stopped; a new connection per request: gunicorn's sync workers close them)")
    print("  the selector after this process slept (as a worker waits for its next request), p50: "
          + ", ".join(f"{pause * 1e3:.0f} ms asleep {p50 * 1e3:.3f} ms ({p50 / inproc_p50:.2f}x)"
                      for pause, p50 in after_pause.items()))


if __name__ == "__main__":
    main()
