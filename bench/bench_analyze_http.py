"""Analyze end to end over HTTP: gunicorn with 2 workers (post_fork starts each worker's warm parse pool),
every good shared sample uploaded with unique content (so every request really parses), then per-format
median latency and requests per second; finally a small STEP file's latency once the pool is warm
(target <= 0.3 s: it must not pay the OCP import).

Uses a throw-away SQLite database and var/ folder unless DATABASE_URL is set; starts and stops its own
gunicorn on a free local port.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_analyze_http.py [--rounds 2] [--clients 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FOLDERS = ("dxf", "stl", "step", "iges", "obj")
SMALL_STEP = "step/pythonocc__test_ocaf.stp"


def unique_variant(data: bytes, name: str, i: int) -> bytes | None:
    """Same geometry, different bytes (a new sha256), so the request is parsed instead of reused.

    A binary DXF cannot take trailing bytes: it is sent unchanged in round 0 only (None afterwards)."""
    if data.startswith(b"AutoCAD Binary DXF"):
        return data if i == 0 else None
    if len(data) >= 84 and len(data) == 84 + 50 * int.from_bytes(data[80:84], "little"):  # binary STL
        return f"bench variant {i} {secrets.token_hex(8)}".encode().ljust(80)[:80] + data[80:]
    if name.lower().endswith(".obj"):
        return data + f"\n# bench variant {i} {secrets.token_hex(8)}\n".encode()
    return data + b"\n" * (i + 1)  # trailing blank lines: ignored by the DXF, STEP, IGES and ASCII STL readers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int = 2, root: Path = ROOT, broker_url: str | None = None, key_name: str = "bench",
                 gunicorn_args: str | None = None):
    """A private gunicorn (throw-away SQLite database and var/ folder unless DATABASE_URL is set) on a free local
    port, with an API key: (process, base URL, requests session with the key, log path). Stop it with
    `stop_server(process)`. `root` serves another checkout of the project (e.g. the code before a change).
    Without `broker_url` tasks run in process (the embedded default, whatever CELERY_BROKER_URL says); with it they
    are published to that broker (no Celery worker is started here). `key_name` names the API key (two servers on one
    database need two names). `gunicorn_args` are gunicorn command-line settings for this server alone (passed as
    ``GUNICORN_CMD_ARGS``, e.g. ``--worker-class gthread --threads 1 --keep-alive 5``); without them it runs as
    `make run` does, whatever this process's ``GUNICORN_CMD_ARGS`` says."""
    var_dir = tempfile.mkdtemp(prefix="cadml-bench-var-")
    multiproc = tempfile.mkdtemp(prefix="cadml-bench-prom-")
    port = free_port()
    env = {**os.environ, "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(40), "CADML_VAR_DIR": var_dir,
           "GUNICORN_WORKERS": str(workers), "GUNICORN_BIND": f"127.0.0.1:{port}",
           "PROMETHEUS_MULTIPROC_DIR": multiproc, "OMP_NUM_THREADS": "1",
           "CADML_THROTTLE_UPLOAD": "100000/min", "CADML_THROTTLE_DEFAULT": "100000/min"}
    env.pop("CELERY_BROKER_URL", None)
    env.pop("GUNICORN_CMD_ARGS", None)
    if gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = gunicorn_args
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=root, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([PYTHON, "manage.py", "createcachetable"], cwd=root, env=env, check=True)
    created = subprocess.run([PYTHON, "manage.py", "create_api_key", key_name], cwd=root, env=env, check=True,
                             capture_output=True, text=True)
    api_key = created.stdout.strip().splitlines()[-1].strip()
    log_path = Path(var_dir) / "gunicorn.log"
    log = open(log_path, "wb")
    server = subprocess.Popen([str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=root, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["X-API-Key"] = api_key
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if session.get(f"{base}/api/v1/health/live/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)
        time.sleep(3)  # the workers' parse pools finish starting (post_fork)
    except BaseException:
        stop_server(server)
        raise
    return server, base, session, log_path


def stop_server(server) -> None:
    server.send_signal(signal.SIGTERM)  # graceful: gunicorn stops its workers, they stop their parse pools
    try:
        server.wait(40)
    except subprocess.TimeoutExpired:
        print("  gunicorn did not stop within 40 s: killing its process group")
    try:
        os.killpg(server.pid, signal.SIGKILL)  # whatever is left of this bench's own process group
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="Uploads of each sample (each unique).")
    parser.add_argument("--clients", type=int, default=2, help="Concurrent client threads.")
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR",
                                                            str(ROOT.parent / "shared" / "cad-samples")))
    args = parser.parse_args()
    samples = Path(args.samples)
    server, base, session, log_path = start_server(workers=2)
    try:
        def post(item):
            name, data = item
            started = time.perf_counter()
            response = session.post(f"{base}/api/v1/analyze/", files={"file": (name, data)},
                                    data={"classify": "false"}, timeout=120)
            return name, response.status_code, time.perf_counter() - started, response.json()

        # warm-up: one request per format (first import of the view stack in each worker)
        warm = [(p.name, unique_variant(p.read_bytes(), p.name, 999)) for f in FOLDERS
                for p in sorted((samples / f).iterdir())[:1]]
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(post, warm * 1))
        work = []
        for folder in FOLDERS:
            for path in sorted((samples / folder).iterdir()):
                for i in range(args.rounds):
                    variant = unique_variant(path.read_bytes(), path.name, i)
                    if variant is not None:
                        work.append((folder, (path.name, variant)))
        latencies: dict[str, list[float]] = {f: [] for f in FOLDERS}
        failures = []
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(lambda w: (w[0], post(w[1])), work))
        elapsed = time.perf_counter() - started
        for folder, (name, status, seconds, body) in results:
            if status != 201:
                failures.append((name, status, body.get("code")))
                continue
            if body["reused_file"]:
                failures.append((name, "reused", None))
            latencies[folder].append(seconds)
        print(f"analyze over HTTP: gunicorn 2 workers, {args.clients} clients, {len(work)} uploads (all parsed), "
              f"{elapsed:.1f} s, {len(work) / elapsed:.1f} req/s")
        for folder in FOLDERS:
            values = sorted(latencies[folder])
            if values:
                print(f"  {folder:5s} n={len(values):3d}  median {statistics.median(values) * 1000:7.1f} ms"
                      f"  p90 {values[int(0.9 * (len(values) - 1))] * 1000:7.1f} ms  max {values[-1] * 1000:7.1f} ms")
        if failures:
            print(f"  failures: {failures[:10]} (server log: {log_path})")
        small = (samples / SMALL_STEP).read_bytes()
        times = []
        for i in range(7):
            name, status, seconds, body = post((Path(SMALL_STEP).name, unique_variant(small, SMALL_STEP, 100 + i)))
            assert status == 201 and not body["reused_file"], body
            times.append(seconds)
        print(f"  small STEP ({len(small)} bytes), warm pool, sequential: "
              f"median {statistics.median(times) * 1000:.0f} ms  max {max(times) * 1000:.0f} ms (target <= 300 ms)")
        return 0 if statistics.median(times) <= 0.3 and not failures else 1
    finally:
        stop_server(server)

if __name__ == "__main__":
    raise SystemExit(main())
