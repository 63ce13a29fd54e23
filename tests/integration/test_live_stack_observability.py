"""Issue 7 end to end: gunicorn (2 workers) + a Celery worker + a real Prometheus with the shipped rules.

Short versions of the three stress commands run against the live service; Prometheus must produce the recording
rules' series from the scraped metrics, counters incremented in the Celery worker must reach the scrape, and a
degraded-mode drill must make CadmlFaissDegradedModeActive pending (its 'for: 2m' is the shipped one, so the test
asserts the pending state instead of waiting two minutes).
"""

from __future__ import annotations

import io
import math
import os
import time
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from tools.stress.payloads import box_variants
from tests.integration.live_stack import (
    METRICS_TOKEN,
    LiveStack,
    current_database_url,
    stack_broker_url,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """Replaces pytest-django's fixture of this name in this module only.

    The name is what makes pytest-django create the test database (the stack's processes use it), but these tests
    must not run inside a test transaction or flush the tables after each test: a test-held transaction locks a
    SQLite database against the stack's writers, and the module's stack keeps its data from test to test. The
    ``stack`` fixture flushes the database when the module ends.
    """
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """The live service on the pytest database, with an API client and an ops user; flushed afterwards."""
    workdir = tmp_path_factory.mktemp("live-stack")
    multiproc = workdir / "prometheus-multiproc"
    multiproc.mkdir()
    with django_db_blocker.unblock():
        from django.contrib.auth import get_user_model

        from cadml_site.api.services import admin_token_create, api_key_create

        _, api_key = api_key_create(name="stress-client")
        from tests.conftest import OPS_ROLES, grant_roles

        grant_roles(get_user_model().objects.create_user(username="ops-stress", password=None, is_staff=True),
                    OPS_ROLES)
        _, admin_token = admin_token_create(username="ops-stress")
        database_url = current_database_url()
    # Throttling would turn the stress commands into a test of the throttle: lift it for this stack.
    env = {**os.environ, "DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
           "CELERY_BROKER_URL": stack_broker_url(), "OMP_NUM_THREADS": "1",
           "CADML_THROTTLE_DEFAULT": "100000/min", "CADML_THROTTLE_UPLOAD": "100000/min",
           "CADML_THROTTLE_SENSITIVE": "100000/min",
           # A short cache rollback window, so that "window open longer than its length" is reachable in a test.
           "CADML_CACHE_ROLLBACK_WINDOW_SECONDS": "2",
           # /metrics behind a bearer token, scraped by Prometheus with its authorization setting
           "CADML_METRICS_TOKEN": METRICS_TOKEN}
    env.pop("CELERY_RESULT_BACKEND", None)
    live = LiveStack(workdir=workdir, env=env)
    live.api_key, live.admin_token = api_key, admin_token
    try:
        live.start_service(workers=2)
        live.start_celery_worker()
        live.start_prometheus()
        _seed(live)
        yield live
    finally:
        live.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def _headers(live: LiveStack, *, ops: bool = False) -> dict[str, str]:
    headers = {"X-API-Key": live.api_key}
    if ops:
        headers["X-Admin-Token"] = live.admin_token
    return headers


MODEL_LABELS = ("stress-a", "stress-b")


def _model_bytes(estimator) -> bytes:
    """A small scikit-learn classifier over v4 vectors (24 values), serialised with joblib."""
    import joblib
    import numpy as np

    rng = np.random.default_rng(7)
    values = rng.uniform(0.0, 10.0, size=(200, 24))
    labels = np.array(["plate", "bracket", "shaft"])[rng.integers(0, 3, size=200)]
    estimator.fit(values, labels)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def _seed(live: LiveStack) -> None:
    """Parts analysed in v4 and v3 (vectors registered), so searches and migrations have data."""
    for version in ("v4", "v3"):
        for name, data in box_variants(6):
            response = requests.post(live.base_url + "/api/v1/analyze/", headers=_headers(live),
                                     files={"file": (name, data)},
                                     data={"feature_version": version, "classify": "false"}, timeout=60)
            assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def models(stack):
    """Two uploaded classifiers over v4 vectors, the first one active."""
    from sklearn.tree import DecisionTreeClassifier

    estimators = (DecisionTreeClassifier(max_depth=3, random_state=0),
                  DecisionTreeClassifier(max_depth=5, random_state=1))
    for label, estimator in zip(MODEL_LABELS, estimators):
        response = requests.post(stack.base_url + "/api/v1/model/versions/", headers=_headers(stack, ops=True),
                                 files={"file": (f"{label}.joblib", _model_bytes(estimator))},
                                 data={"label": label, "feature_version": "v4"}, timeout=60)
        assert response.status_code == 201, response.text
    response = requests.post(stack.base_url + "/api/v1/model/reload/", headers=_headers(stack, ops=True),
                             json={"version": MODEL_LABELS[0]}, timeout=60)
    assert response.status_code == 200, response.text
    return MODEL_LABELS


def _stress(command: str, live: LiveStack, *args: str) -> str:
    out, err = StringIO(), StringIO()
    try:
        call_command(command, "--url", live.base_url, "--api-key", live.api_key, "--admin-token", live.admin_token,
                     "--metrics-token", METRICS_TOKEN, *args, stdout=out, stderr=err)
    except Exception as exc:
        raise AssertionError(f"{command} failed: {exc}\n{out.getvalue()}\n{err.getvalue()}") from exc
    return out.getvalue()


def test_stress_degradation_flapping_short(stack):
    output = _stress("stress_degradation_flapping", stack, "--cycles", "3", "--drill-seconds", "60")
    assert "flap suppression: engaged at cycle 3" in output
    assert "stress_degradation_flapping: OK" in output


def test_stress_concurrency_reload_short(stack, models):
    output = _stress("stress_concurrency_reload", stack, "--duration", "8", "--iterations", "15",
                     "--versions", ",".join(models))
    assert "stress_concurrency_reload: OK" in output
    assert "load sequence:" in output


def test_stress_memory_gc_check_short(stack, models):
    # A short run: allocator noise weighs more per cycle than in the 1000-cycle runs of docs/observability.md.
    output = _stress("stress_memory_gc_check", stack, "--iterations", "80", "--duration", "40", "--warmup", "20",
                     "--reload-every", "20", "--max-growth-mb", "256")
    assert "stress_memory_gc_check: OK" in output
    assert "resident memory growth per 1000 cycles" in output


@pytest.mark.parametrize("command", ["stress_degradation_flapping", "stress_concurrency_reload",
                                     "stress_memory_gc_check"])
def test_stress_commands_fail_when_the_server_refuses_them(stack, command):
    with pytest.raises(CommandError, match="HTTP 401"):
        call_command(command, "--url", stack.base_url, "--api-key", "deadbeef.not-a-key", "--admin-token",
                     stack.admin_token, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="loopback"):
        call_command(command, "--url", "http://10.0.0.1:8000", "--api-key", stack.api_key, "--admin-token",
                     stack.admin_token, stdout=StringIO(), stderr=StringIO())


def test_counters_incremented_in_the_celery_worker_are_scraped(stack):
    before = _scrape_value(stack, 'vector_migrate_total{status="dry_run"}')
    response = requests.post(stack.base_url + "/api/v1/vectors/migrate/", headers=_headers(stack, ops=True),
                             json={"from_version": "v3", "to_version": "v4", "dry_run": True}, timeout=30)
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]

    def finished():
        run = requests.get(f"{stack.base_url}/api/v1/vectors/migrate/runs/{run_id}/", headers=_headers(stack),
                           timeout=10).json()
        return run["status"] not in ("pending", "running")

    wait_until(finished, timeout=60, what="the dry-run migration task", processes=stack.processes)
    # The run executed in the Celery worker process, never in gunicorn: its counter comes from the shared
    # multiprocess directory.
    assert _scrape_value(stack, 'vector_migrate_total{status="dry_run"}') == before + 1


def _scrape_value(live: LiveStack, series: str) -> float:
    name, _, labels = series.partition("{")
    body = requests.get(live.base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                        timeout=10).text
    for line in body.splitlines():
        if line.startswith(name + "{") and all(part in line for part in labels.rstrip("}").split(",") if part):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"/metrics has no {series}")


RECORDED_WITH_TRAFFIC = (
    'version:feature_extraction_latency_seconds:p95_5m{version="v4"}',
    'version:feature_extraction_latency_seconds:p50_5m{version="v4"}',
    'backend:vector_query_latency_seconds:p95_5m{backend="faiss"}',
    "backend:vector_query:rate5m",
    "batch_size_range:vector_query_batch_latency_seconds:p95_5m",
    "instance:feature_cache_lookups:rate5m",
    "instance:feature_cache_hit_ratio:ratio_rate5m",
    "status:django_http_responses:rate5m",
    "instance:django_http_responses_5xx:ratio_rate5m",
    "instance:django_http_request_latency_seconds:p95_5m",
)


def test_recording_rules_produce_series_from_the_scrape(stack):
    headers = _headers(stack)
    vector = [1.0] * 24
    for round_ in range(3):  # spread over several scrapes, so that rate() sees the counters move
        for name, data in box_variants(2 + round_):  # cache hits (content seen before) and fresh extractions
            requests.post(stack.base_url + "/api/v1/analyze/", headers=headers, files={"file": (name, data)},
                          data={"classify": "false"}, timeout=60).raise_for_status()
        for _ in range(3):
            requests.post(stack.base_url + "/api/v1/vectors/similarity/", headers=headers, timeout=30,
                          json={"feature_version": "v4", "vector": vector, "k": 3}).raise_for_status()
            requests.post(stack.base_url + "/api/v1/vectors/similarity/batch/", headers=headers, timeout=30,
                          json={"feature_version": "v4", "queries": [{"vector": vector}] * 3,
                                "k": 3}).raise_for_status()
        time.sleep(1.5)

    missing = list(RECORDED_WITH_TRAFFIC)

    def all_recorded():
        missing[:] = [q for q in RECORDED_WITH_TRAFFIC
                      if not any(not math.isnan(float(s["value"][1])) for s in stack.query(q))]
        return not missing

    try:
        wait_until(all_recorded, timeout=45, interval=1, what="recording-rule series", processes=stack.processes)
    except AssertionError as exc:
        raise AssertionError(f"no value for {missing}") from exc
    ratio = stack.query("instance:feature_cache_hit_ratio:ratio_rate5m")
    assert 0 < float(ratio[0]["value"][1]) <= 1  # the boxes analysed again were cache hits


def test_degraded_drill_makes_the_degraded_alert_pending(stack):
    rule = next(r for r in stack.rules() if r.get("name") == "CadmlFaissDegradedModeActive")
    assert rule["duration"] == 120  # the shipped 'for: 2m'
    response = requests.post(stack.base_url + "/api/v1/vectors/index/degrade/", headers=_headers(stack, ops=True),
                             json={"feature_version": "v4", "reason": "alerting drill (integration test)",
                                   "duration_seconds": 600}, timeout=30)
    assert response.status_code == 200, response.text
    started = time.monotonic()
    try:
        wait_until(lambda: stack.query('ALERTS{alertname="CadmlFaissDegradedModeActive",alertstate="pending"}'),
                   timeout=30, interval=0.5, what="the pending degraded alert", processes=stack.processes)
        assert time.monotonic() - started < 120
        assert stack.query('ALERTS{alertname="CadmlFaissDegradedModeActive",alertstate="firing"}') == []
        assert float(stack.query("max(faiss_degraded_duration_seconds)")[0]["value"][1]) > 0
    finally:
        recovered = requests.post(stack.base_url + "/api/v1/vectors/index/recover/",
                                  headers=_headers(stack, ops=True), json={"feature_version": "v4"}, timeout=60)
        assert recovered.status_code == 200, recovered.text
    wait_until(lambda: not stack.query('ALERTS{alertname="CadmlFaissDegradedModeActive"}'), timeout=30,
               interval=0.5, what="the degraded alert to clear", processes=stack.processes)


def test_an_unconfirmed_cache_change_makes_the_window_alert_pending(stack):
    response = requests.post(stack.base_url + "/api/v1/cache/apply/", headers=_headers(stack, ops=True),
                             json={"capacity": 1500, "reason": "window alert (integration test)"}, timeout=30)
    assert response.status_code == 200, response.text
    try:
        wait_until(lambda: stack.query('ALERTS{alertname="CadmlFeatureCacheRollbackWindowOverdue",'
                                       'alertstate="pending"}'),
                   timeout=30, interval=0.5, what="the pending rollback-window alert", processes=stack.processes)
        limit = float(stack.query("max(feature_cache_rollback_window_limit_seconds)")[0]["value"][1])
        assert limit == 2.0
        assert float(stack.query("max(feature_cache_rollback_window_age_seconds)")[0]["value"][1]) > limit
    finally:
        confirmed = requests.post(stack.base_url + "/api/v1/cache/confirm/", headers=_headers(stack, ops=True),
                                  json={"reason": "integration test done"}, timeout=30)
        assert confirmed.status_code == 200, confirmed.text
    wait_until(lambda: not stack.query('ALERTS{alertname="CadmlFeatureCacheRollbackWindowOverdue"}'), timeout=30,
               interval=0.5, what="the rollback-window alert to clear", processes=stack.processes)


def test_metrics_needs_the_bearer_token_the_prometheus_server_is_given(stack):
    """CADML_METRICS_TOKEN is set on this stack: without the token /metrics is a 401, with it the scrape works
    (and the Prometheus server, configured with `authorization: {type: Bearer, credentials_file: ...}`, is up)."""
    refused = requests.get(stack.base_url + "/metrics", timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    wrong = requests.get(stack.base_url + "/metrics", headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert stack.query('up{job="cadml"} == 1')
