"""Soak: mixed traffic against a stack this script starts (gunicorn with 2 workers on a private Postgres cluster,
tasks in process), then the report of tools.stress.soak.

    OMP_NUM_THREADS=1 .venv/bin/python bench/soak.py --minutes 30 --rate 6

Prints errors, latency percentiles (all and per operation), RSS per worker and its slope after warm-up, file
descriptors and processes at the start and end of the steady phase. Exit status 1 when a request failed, p99 reached
1 s, a descriptor or a process leaked. Loopback only; stops by itself. Figures: docs/reliability.md ("Soak").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "soak-" + os.urandom(24).hex())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=6.0, help="requests per second")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--drill-every", type=float, default=60.0, help="seconds between degradation drills")
    args = parser.parse_args()

    from tests.integration.fault_stack import start_fault_stack
    from tools.stress.client import StressClient
    from tools.stress.soak import seed_service, soak

    workdir = Path(tempfile.mkdtemp(prefix="cadml-soak-"))
    stack = start_fault_stack(workdir, celery=False)
    try:
        client = StressClient(stack.base_url, api_key=stack.api_key, admin_token=stack.admin_token)
        versions = seed_service(client)
        master = next(p for p in stack.live.processes if p.name == "gunicorn").process.pid
        report = soak(client, master_pid=master, duration=args.minutes * 60, warmup=args.warmup_minutes * 60,
                      rate=args.rate, model_versions=versions, threads=args.threads, drill_every=args.drill_every)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(report.render())
    leaked = any((report.fds_end.get(pid) or 0) > (report.fds_start.get(pid) or 0) + 8 for pid in report.fds_start)
    ok = not report.errors and report.p99 < 1.0 and not leaked and report.processes_end == report.processes_start
    print("OK" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
