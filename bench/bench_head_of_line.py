"""Does a busy gunicorn worker hold back requests that another, idle worker could answer?

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_head_of_line.py [--gunicorn-args "--worker-class gthread ..."]
        [--slow-file ../shared/cad-samples/step/occt__linkrods.step] [--trials 10]

A private gunicorn with 2 workers (`bench_analyze_http.start_server`, throw-away SQLite and var/ folder). Each trial
uploads a large STEP file (new content: a parse of about a second) from one thread and, while it is in flight, sends
`GET health/live/` on a new connection every 20 ms from another. One worker is busy with the upload, the other idle:
a `health/live` that waits for the upload's parse was accepted by the busy worker. The bench prints how many of the
`health/live` requests sent during the uploads took longer than 100 ms, and their p50 and max. gunicorn's sync worker
accepts a connection only when it is free; a gthread worker's main loop accepts while its thread is busy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

import requests

from bench_analyze_http import start_server, stop_server, unique_variant  # bench/, beside this script

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SLOW_FILE = ROOT.parent / "shared" / "cad-samples" / "step" / "occt__linkrods.step"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gunicorn-args", default=None)
    parser.add_argument("--slow-file", default=str(DEFAULT_SLOW_FILE))
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    slow = Path(args.slow_file)
    data = slow.read_bytes()
    server, base, session, _log = start_server(workers=2, gunicorn_args=args.gunicorn_args)
    key = session.headers["X-API-Key"]
    try:
        lives, uploads = [], []
        for trial in range(args.trials):
            done = threading.Event()

            def upload():
                started = time.perf_counter()
                response = requests.post(f"{base}/api/v1/analyze/", headers={"X-API-Key": key},
                                         files={"file": (slow.name, unique_variant(data, slow.name, trial + 1))},
                                         data={"register_vector": "false", "classify": "false"}, timeout=120)
                uploads.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
                done.set()

            thread = threading.Thread(target=upload)
            thread.start()
            time.sleep(0.2)  # the upload has reached a worker
            while not done.is_set():
                started = time.perf_counter()
                assert requests.get(f"{base}/api/v1/health/live/", timeout=120).status_code == 200  # a new connection
                lives.append(time.perf_counter() - started)
                time.sleep(0.02)
            thread.join()
            time.sleep(0.5)  # the upload's work after its response (the thumbnail)
        held = [t for t in lives if t > 0.1]
        print(f"gunicorn settings: {args.gunicorn_args or 'gunicorn.conf.py alone'}; {args.trials} uploads of "
              f"{slow.name} ({len(data):,} bytes), p50 {statistics.median(uploads):.2f} s; load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"health/live during the uploads: {len(lives)} requests, p50 {statistics.median(lives) * 1e3:.1f} ms, "
              f"max {max(lives) * 1e3:.1f} ms, {len(held)} held over 100 ms "
              f"({100 * len(held) / len(lives):.0f} %)")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
