"""Ingest throughput over the shared samples with 1 and with 2 Celery workers ("hosts").

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ingest_workers.py [--rounds 1] [--samples ../shared/cad-samples]

Each run is a fresh deployment (tests/integration/shared_hosts.py): a new Postgres database on the machine's
server (migrated before timing, dropped after), a private Redis broker, one shared storage folder for the
originals, and N Celery workers (prefork, concurrency 1), each with its own var/ folder as a host would have. Then
``manage.py ingest <the sample folders> --feature-version v4`` runs from a third environment and is timed from start
to exit: it stores each original in the shared storage, queues one task per file and waits for every result, so
the time covers parsing, extraction, the database writes and vector registration on the workers. The command's
own start (Django set-up, about a second) is inside the time and is printed separately, with the CPU seconds the
command used and those of the workers' process groups (worker, prefork child, parse pool) over the run, which
include the thumbnail task each import queues. Runs alternate 1, 2, 2,
1, ... so that a drift of the machine falls on both. Printed: files, seconds, files per second per run, the
medians, and the 2-worker figure as a ratio of the 1-worker one.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + os.urandom(24).hex())

import django  # noqa: E402

django.setup()  # the shared test helpers import DRF's test client

from process_cpu import process_cpu_seconds  # noqa: E402  (bench/, beside this script)
from tests.integration.shared_hosts import SharedHosts  # noqa: E402

FORMAT_FOLDERS = ("stl", "step", "iges", "obj", "dxf", "dwg", "damaged")


def _folders(samples: Path) -> list[Path]:
    return [samples / name for name in FORMAT_FOLDERS if (samples / name).is_dir()]


def _count(folders: list[Path]) -> int:
    return sum(1 for folder in folders for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _workers_cpu(hosts: SharedHosts) -> float:
    return sum(process_cpu_seconds(process_group=m.process.pid) for host in hosts.hosts for m in host.live.processes)


def run_once(workers: int, folders: list[Path]) -> tuple[float, float, str, float, float]:
    with tempfile.TemporaryDirectory(prefix="cadml-bench-ingest-") as tmp:
        hosts = SharedHosts(Path(tmp))
        try:
            hosts.start()
            for i in range(workers):
                hosts.add_host(f"worker-{i + 1}").live.start_celery_worker()
            env = hosts.host_env("client")
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault("
                            "'DJANGO_SETTINGS_MODULE', 'cadml_site.settings'); django.setup()"],
                           cwd=ROOT, env=env, check=True)
            startup = time.perf_counter() - started
            workers_before = _workers_cpu(hosts)
            client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "manage.py", "ingest", *map(str, folders), "--feature-version",
                                     "v4"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                raise SystemExit(f"ingest failed:\n{result.stdout}\n{result.stderr[-4000:]}")
            summary = next(line for line in result.stdout.splitlines() if line.startswith("ingest ("))
            client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            client_cpu = (client_after.ru_utime + client_after.ru_stime - client_before.ru_utime
                          - client_before.ru_stime)
            time.sleep(2)  # thumbnails queued by the last imports finish
            workers_cpu = _workers_cpu(hosts) - workers_before
        finally:
            hosts.stop()
    return seconds, startup, summary, client_cpu, workers_cpu


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop the workers and drop the database
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs (1 worker, 2 workers)")
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "cad-samples")
    args = parser.parse_args()
    folders = _folders(args.samples)
    n = _count(folders)
    print(f"{n} files from {args.samples} ({', '.join(f.name for f in folders)}), feature version v4")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for round_number in range(args.rounds):
        order = (1, 2) if round_number % 2 == 0 else (2, 1)
        for workers in order:
            seconds, startup, summary, client_cpu, workers_cpu = run_once(workers, folders)
            rates[workers].append(n / seconds)
            print(f"  {workers} worker(s): {seconds:6.1f} s, {n / seconds:5.2f} files/s (command start {startup:.1f} s; "
                  f"CPU s: command {client_cpu:.1f}, workers {workers_cpu:.1f}; load average "
                  f"{os.getloadavg()[0]:.1f})  [{summary}]", flush=True)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"median: 1 worker {one:.2f} files/s, 2 workers {two:.2f} files/s, ratio {two / one:.2f}x")


if __name__ == "__main__":
    main()
