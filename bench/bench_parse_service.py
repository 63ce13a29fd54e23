"""One parse pool per host: the host's parse service against one in-process pool per worker, in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_parse_service.py                 # everything below
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_parse_service.py --skip-server   # latency and crash only

1. Latency of a small STEP parse (``../shared/cad-samples``, 17 KB): ``ParsePool.parse`` in this process (the
   baseline) against ``ParseServiceClient.parse`` through a service started for the bench (same pool inside), and
   the transport alone: the same bytes echoed over a Unix socket in the service's frames against a round trip
   through Redis (LPUSH/BRPOP to a responder and back), the least a broker-backed queue (the other option: a
   dedicated Celery queue with its own prefork workers) adds before Celery's own work.
2. A parse worker crash (a STEP nested 200 000 deep): the code answered and the time until the next parse succeeds,
   in process and through the service; then the service itself killed (SIGKILL) under back-to-back parses: what
   the client sees until the supervisor's replacement serves.
3. PSS of the whole server, idle: gunicorn master + 4 workers + 1 Celery worker (prefork, concurrency 1, its own
   queue on the local Redis) with their parse pools, summed over the process trees from /proc/PID/smaps_rollup
   (a page shared by k processes counts 1/k in each), first with one pool per process (no
   ``CADML_PARSE_SERVICE_SOCKET``), then with the host's service (the master starts it; Celery uses it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from features.parse_service.client import ParseServiceClient, probe  # noqa: E402
from features.parse_service.protocol import recv_frame, send_frame  # noqa: E402
from features.parse_workers.pool import ParsePool  # noqa: E402
from features.parsers.errors import CadParseError  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "cad-samples"
STEP = SAMPLES / "step" / "pythonocc__test_ocaf.stp"
GIB = 1024**3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def start_service(directory: str, workers: int = 2) -> tuple[subprocess.Popen, str]:
    path = os.path.join(directory, "parse.sock")
    proc = subprocess.Popen([sys.executable, "-m", "features.parse_service", "--socket", path,
                             "--workers", str(workers)], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = probe(path)
        if status and status["alive"] == status["workers"]:
            return proc, path
        time.sleep(0.1)
    raise RuntimeError("the parse service did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- 1. latency ---------------------------------------------------------------------------------------------------

def line(name: str, values: list[float], base: list[float] | None = None) -> str:
    text = f"  {name:<38} median {statistics.median(values):7.2f} ms  p95 {percentile(values, 0.95):7.2f} ms"
    if base is not None:
        text += f"  x{statistics.median(values) / statistics.median(base):.2f} median vs in-process"
    return text


def echo_server(path: str, stop_event: threading.Event) -> threading.Thread:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    listener.settimeout(0.2)

    def serve():
        while not stop_event.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            with conn:
                send_frame(conn, recv_frame(conn, max_bytes=1 << 30))
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def unix_round_trip(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        send_frame(sock, data)
        recv_frame(sock, max_bytes=1 << 30)


def redis_round_trips(data: bytes, repeat: int) -> list[float] | None:
    try:
        import redis
    except ImportError:
        return None
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        return None
    requests_key, replies_key = f"bench-parse-service:{os.getpid()}:req", f"bench-parse-service:{os.getpid()}:rep"
    stop_event = threading.Event()

    def responder():
        other = redis.Redis.from_url(url, socket_timeout=5)
        while not stop_event.is_set():
            item = other.brpop([requests_key], timeout=1)
            if item is not None:
                other.lpush(replies_key, item[1])

    thread = threading.Thread(target=responder, daemon=True)
    thread.start()

    def round_trip():
        client.lpush(requests_key, data)
        client.brpop([replies_key], timeout=5)

    try:
        timed(round_trip, 5)
        return timed(round_trip, repeat)
    finally:
        stop_event.set()
        thread.join(3)
        client.delete(requests_key, replies_key)


def bench_latency(repeat: int, directory: str) -> None:
    data = STEP.read_bytes()
    pool = ParsePool(workers=2).start()
    service, path = start_service(directory)
    client = ParseServiceClient(path)
    try:
        for _ in range(5):  # warm both
            pool.parse("step", data)
            client.parse("step", data)
        local, remote = [], []
        for _ in range(repeat):  # interleaved, so the neighbours' load hits both alike
            local += timed(lambda: pool.parse("step", data), 1)
            remote += timed(lambda: client.parse("step", data), 1)
        print(f"small STEP parse ({len(data) / 1024:.0f} KB {STEP.name}), {repeat} runs each, interleaved:")
        print(line("in-process ParsePool (baseline)", local))
        print(line("parse service over a Unix socket", remote, local))
        print(f"  added by the service: {statistics.median(remote) - statistics.median(local):+.2f} ms median")

        stop_event = threading.Event()
        echo_path = os.path.join(directory, "echo.sock")
        echo = echo_server(echo_path, stop_event)
        unix = timed(lambda: unix_round_trip(echo_path, data), repeat)
        stop_event.set()
        echo.join(2)
        print(f"transport alone, the same {len(data)} bytes there and back:")
        print(f"  {'Unix socket, length-prefixed frames':<38} median {statistics.median(unix):7.3f} ms  "
              f"p95 {percentile(unix, 0.95):7.3f} ms")
        broker = redis_round_trips(data, repeat)
        if broker is None:
            print("  Redis round trip: no Redis answered (BENCH_REDIS_URL)")
        else:
            print(f"  {'Redis LPUSH/BRPOP round trip':<38} median {statistics.median(broker):7.3f} ms  "
                  f"p95 {percentile(broker, 0.95):7.3f} ms  x{statistics.median(broker) / statistics.median(unix):.1f}"
                  " vs Unix socket")

        # -- 2. a crashing worker -----------------------------------------------------------------------------
        from tests.features.cad_builders import make_step_nested_parentheses

        evil = make_step_nested_parentheses(200_000)
        print("a parse worker crash (STEP nested 200 000 deep), then the next parse:")
        for name, runner in (("in-process ParsePool", pool), ("parse service", client)):
            started = time.perf_counter()
            try:
                runner.parse("step", evil)
                code = "no error"
            except CadParseError as exc:
                code = exc.code
            crashed = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            runner.parse("step", data)
            after = (time.perf_counter() - started) * 1000
            print(f"  {name:<22} answered {code} in {crashed:6.0f} ms; next parse {after:6.1f} ms"
                  f" (replacements {runner.status()['replacements']})")
    finally:
        pool.shutdown()
        stop(service)
    bench_service_kill(directory, data)


def bench_service_kill(directory: str, data: bytes) -> None:
    """kill -9 of the service under a client's back-to-back parses: what the client sees until the supervisor's
    replacement answers (as gunicorn's master does it)."""
    from features.parse_service.supervisor import ParseServiceSupervisor
    from features.parse_workers.pool import ParsePoolUnavailable

    path = os.path.join(directory, "killed.sock")
    supervisor = ParseServiceSupervisor(path, service_args=["--workers", "2"])
    client = ParseServiceClient(path)
    try:
        first = supervisor.start()["service_pid"]
        client.parse("step", data)
        os.kill(first, signal.SIGKILL)
        killed = time.perf_counter()
        unavailable, longest, last = 0, 0.0, killed
        while True:
            started = time.perf_counter()
            try:
                client.parse("step", data)
                break
            except ParsePoolUnavailable:
                unavailable += 1
                last = time.perf_counter()
                longest = max(longest, last - started)
                time.sleep(0.02)
        print(f"the service killed (SIGKILL) under back-to-back parses, supervisor checking every "
              f"{supervisor.check_every:g} s:")
        print(f"  {unavailable} calls answered ParsePoolUnavailable (503 parser_unavailable), the slowest in "
              f"{longest * 1000:.1f} ms, the last {(last - killed) * 1000:.0f} ms after the kill (the new service "
              f"answers from then on); the first parse it served (after its forkserver's warm-up) "
              f"{(time.perf_counter() - killed) * 1000:.0f} ms after the kill")
    finally:
        supervisor.stop()


# -- 3. PSS of the whole server -----------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found += [int(p) for p in (task / "children").read_text().split()]
            except FileNotFoundError:
                pass
    except FileNotFoundError:
        pass
    return found


def tree(pid: int) -> list[int]:
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


def pss(pid: int) -> int:
    try:
        for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if row.startswith("Pss:"):
                return int(row.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def forkservers(pids: list[int]) -> int:
    count = 0
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            parent_cmd = Path(f"/proc/{parent}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"multiprocessing.forkserver" in cmd and b"multiprocessing.forkserver" not in parent_cmd:
            count += 1
    return count


def server_pss(env: dict, label: str, workers: int, parse_workers: int, with_celery: bool) -> tuple[int, int, int]:
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    celery = None
    if with_celery:
        celery = subprocess.Popen([sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--concurrency", "1",
                                   "--pool", "prefork", "-Q", f"bench-parse-service-{os.getpid()}",
                                   "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
                                   "--without-gossip"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    roots = [gunicorn] + ([celery] if celery else [])
    expected = (1 if env.get("CADML_PARSE_SERVICE_SOCKET") else workers + (1 if celery else 0))
    try:
        deadline = time.monotonic() + 300
        while True:
            pids = [pid for root in roots for pid in tree(root.pid)]
            if forkservers(pids) == expected and len(pids) >= (workers + 1 + expected * (parse_workers + 1)):
                break
            if time.monotonic() > deadline or any(root.poll() is not None for root in roots):
                raise RuntimeError(f"{label}: the server did not settle ({forkservers(pids)} forkservers)")
            time.sleep(1)
        time.sleep(10)  # idle: the workers' warm-up is over
        pids = [pid for root in roots for pid in tree(root.pid)]
        return sum(pss(pid) for pid in pids), len(pids), forkservers(pids)
    finally:
        for root in reversed(roots):
            root.send_signal(signal.SIGTERM)
        for root in roots:
            try:
                root.wait(60)
            except subprocess.TimeoutExpired:
                root.kill()


def bench_server(directory: str, workers: int, with_celery: bool) -> None:
    var = os.path.join(directory, "var")
    env = {**os.environ, "CADML_VAR_DIR": var, "DJANGO_SECRET_KEY": "bench-" + "s" * 50, "GUNICORN_WORKERS":
           str(workers), "GUNICORN_BIND": "127.0.0.1:0", "OMP_NUM_THREADS": "1",
           "CELERY_BROKER_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")}
    env.pop("CADML_PARSE_SERVICE_SOCKET", None)
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    parse_workers = int(env.get("CADML_PARSE_WORKERS", "2"))
    what = f"gunicorn master + {workers} workers" + (" + 1 Celery worker (prefork, concurrency 1)" if with_celery
                                                     else "")
    print(f"PSS of the whole server, idle: {what}, {parse_workers} parse workers per pool")
    before, n_before, fs_before = server_pss(env, "in-process pools", workers, parse_workers, with_celery)
    print(f"  {'one pool per process (baseline)':<34} {before / GIB:5.2f} GiB in {n_before:3d} processes, "
          f"{fs_before} forkservers")
    after, n_after, fs_after = server_pss({**env, "CADML_PARSE_SERVICE_SOCKET": os.path.join(directory, "p.sock")},
                                          "parse service", workers, parse_workers, with_celery)
    print(f"  {'one parse service per host':<34} {after / GIB:5.2f} GiB in {n_after:3d} processes, "
          f"{fs_after} forkserver  x{after / before:.2f} vs baseline ({(before - after) / GIB:.2f} GiB less)")
    if with_celery:
        forget_queue(env["CELERY_BROKER_URL"], f"bench-parse-service-{os.getpid()}")


def forget_queue(url: str, queue: str) -> None:
    """Removes the bindings kombu left in Redis for the bench's private queue."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    for key in client.scan_iter(f"_kombu.binding*.{queue}"):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--skip-server", action="store_true", help="no PSS of the whole server")
    parser.add_argument("--no-celery", action="store_true", help="gunicorn only in the PSS figures")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="cadml-bench-", dir="/tmp")
    try:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        bench_latency(args.repeat, directory)
        if not args.skip_server:
            bench_server(directory, args.workers, not args.no_celery)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
