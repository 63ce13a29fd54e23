"""With several gunicorn workers, /metrics reports the sum over the workers."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.integration.live_stack import two_worker_gunicorn


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
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    token = "multiprocess-metrics-" + "t" * 24
    env = {**django_subprocess_env, "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "CADML_METRICS_TOKEN": token}
    with two_worker_gunicorn(env) as server:
        base = server.base

        def whoami(_):
            # a fresh connection each time, so that any worker may accept it
            return requests.get(base + "/api/v1/auth/whoami/", headers={"X-API-Key": secret, "Connection": "close"},
                                timeout=60).status_code

        sent = 0
        with ThreadPoolExecutor(max_workers=4) as pool:
            # concurrent requests: while one worker is busy the other accepts (sync workers share one socket)
            while True:
                statuses = list(pool.map(whoami, range(20)))
                assert statuses == [200] * 20
                sent += 20
                per_worker = [_whoami_count(path) for path in multiproc.glob("counter_*.db")]
                if sum(1 for count in per_worker if count > 0) >= 2 or sent >= 400:
                    break
        body = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=60).text
        match = re.search(r'django_http_requests_total_by_view_transport_method_total\{method="GET",'
                          r'transport="http",view="v1:auth-whoami"\} ([0-9.]+)', body)
        assert match and float(match.group(1)) == sent
        # the total is made of several workers' own counts (one counter file per worker process)
        per_worker = [_whoami_count(path) for path in multiproc.glob("counter_*.db")]
        assert sum(per_worker) == sent
        assert sum(1 for count in per_worker if count > 0) >= 2, per_worker
