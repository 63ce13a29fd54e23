"""With several gunicorn workers, /metrics reports the sum over the workers."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}")
        try:
            if requests.get(base + "/api/v1/health/live/", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.3)
    raise AssertionError("gunicorn did not become ready")


def _whoami_count(counter_file: Path) -> float:
    """whoami requests counted in one worker's own multiprocess file."""
    for metric in MultiProcessCollector.merge([str(counter_file)], accumulate=True):
        if metric.name == "django_http_requests_total_by_view_transport_method":
            return sum(sample.value for sample in metric.samples
                       if sample.name.endswith("_total") and sample.labels.get("view") == "v1:auth-whoami")
    return 0.0


@pytest.mark.integration
def test_metrics_are_summed_over_two_workers(django_subprocess_env, make_api_key, tmp_path):
    _, secret = make_api_key("metrics-client")
    port = free_port()
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {**django_subprocess_env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        for _ in range(40):
            # a fresh connection each time, so both workers serve some of the requests
            response = requests.get(base + "/api/v1/auth/whoami/", headers={"X-API-Key": secret,
                                                                             "Connection": "close"}, timeout=60)
            assert response.status_code == 200
        body = requests.get(base + "/metrics", timeout=60).text
        match = re.search(r'django_http_requests_total_by_view_transport_method_total\{method="GET",'
                          r'transport="http",view="v1:auth-whoami"\} ([0-9.]+)', body)
        assert match and float(match.group(1)) == 40.0
        # the total is made of several workers' own counts (one counter file per worker process)
        per_worker = [_whoami_count(path) for path in multiproc.glob("counter_*.db")]
        assert sum(per_worker) == 40.0
        assert sum(1 for count in per_worker if count > 0) >= 2, per_worker
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
