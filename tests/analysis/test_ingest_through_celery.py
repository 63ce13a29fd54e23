"""`manage.py ingest` on a configured broker: the files are imported by a real Celery worker.

Self-contained: its own SQLite file, its own Redis database number (so no other worker on the host can take
the tasks), a real `celery worker` process and a real `manage.py ingest` process.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def _broker() -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    host = re.match(r"redis://([^/]+)", configured)
    return f"redis://{host.group(1) if host else '127.0.0.1:6379'}/11"


@pytest.mark.integration
def test_ingest_runs_on_a_celery_worker(tmp_path):
    broker = _broker()
    env = {**os.environ, "DJANGO_SECRET_KEY": "ingest-" + secrets.token_urlsafe(40), "CADML_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker, "OMP_NUM_THREADS": "1",
           "CADML_PARSE_WORKERS": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(manage + ["createcachetable"], cwd=ROOT, env=env, check=True, capture_output=True)
    parts = tmp_path / "parts"
    subprocess.run(manage + ["make_demo_parts", "--out", str(parts), "--count", "3"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "celery", "-A", "cadml_site", "purge", "-f"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        ingest = subprocess.run(manage + ["ingest", str(parts), "--wait-seconds", "120"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
    finally:
        worker.terminate()
        try:
            log, _ = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            log, _ = worker.communicate()
        redis.Redis.from_url(broker).flushdb()  # the test's own database: no queue, binding or result left in it
    report = f"--- ingest stdout\n{ingest.stdout}\n--- ingest stderr\n{ingest.stderr[-3000:]}\n--- worker\n{log[-5000:]}"
    assert ingest.returncode == 0, report
    assert "ingest (celery): 9 created, 0 duplicates skipped, 0 failed of 9 files" in ingest.stdout, report
    assert log.count("features.cad_file_import") >= 9, report  # the worker received and ran every task
    assert "Traceback" not in log, report
