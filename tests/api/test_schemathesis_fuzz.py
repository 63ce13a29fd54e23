"""Issue 16: schemathesis, with all its checks and ours, against the running service and its own OpenAPI schema.

gunicorn (2 workers) serves the pytest database, which holds an API client, a staff user with an admin token, an
active model and a few vectors; schemathesis reads /api/schema/ and runs its four phases (examples, coverage,
fuzzing, stateful along the schema's links) with both headers, a fixed seed and a bounded number of examples per
operation. Goal: zero failures, which means zero 5xx, zero responses outside the schema (status, content type,
headers, body), zero schema-valid requests refused as malformed, zero schema-invalid requests accepted, and
(tests/api/schemathesis_hooks.py) zero error bodies missing our problem fields, zero secrets echoed.

Celery runs in process here (no broker): the run must not leave messages in a shared broker.
Figures and commands: docs/reliability.md, "Schema and fuzzing".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import override_settings

from tests.api.schemathesis_hooks import leaked_secrets, problem_defects
from tests.integration.live_stack import ROOT, LiveStack, current_database_url

SEED = 20261206
EXAMPLES_PER_OPERATION = 20
PHASES = "examples,coverage,fuzzing,stateful"
RUN_TIMEOUT_SECONDS = 600  # a hard stop; the run takes ~2 minutes on the CI machine
CONFIG = ROOT / "tests" / "api" / "schemathesis.toml"

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """The stack's processes use the test database: no test transaction (see test_live_stack_observability)."""
    with django_db_blocker.unblock():
        yield


def _seed_database(model_dir: Path) -> tuple[str, str]:
    """An API client, a staff user with a token, an active v4 model and two vectors of every feature version."""
    import numpy as np
    from django.contrib.auth import get_user_model

    from cadml_site.api.services import admin_token_create, api_key_create
    from features.extractors import FEATURE_VERSIONS, dimension
    from modelops.security.reference_models import serialise
    from modelops.services import model_reload, model_version_upload
    from tests.modelops.conftest import fit_for_version
    from vectors.services import vector_bulk_upsert

    _, api_key = api_key_create(name="fuzz-client")
    from tests.conftest import OPS_ROLES, grant_roles

    # the operator and security admin roles: every sensitive operation's permission (issue 18)
    grant_roles(get_user_model().objects.create_user(username="ops-fuzz", password=None, is_staff=True), OPS_ROLES)
    _, admin_token = admin_token_create(username="ops-fuzz")
    with override_settings(CADML_MODEL_DIR=model_dir):
        version = model_version_upload(data=serialise(fit_for_version("v4"), container="joblib", protocol=4),
                                       label="fuzz-rf", feature_version="v4", actor="fuzz-setup")
        model_reload(version=version.label, actor="fuzz-setup")
    rng = np.random.default_rng(SEED)
    for feature_version in FEATURE_VERSIONS:
        vector_bulk_upsert(feature_version=feature_version, items=[
            {"key": f"part-{i}", "values": rng.normal(size=dimension(feature_version)).tolist(), "meta": {"i": i}}
            for i in range(2)])
    return api_key, admin_token


@pytest.fixture(scope="module")
def fuzz_stack(django_db_setup, django_db_blocker, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz-stack")
    model_dir, index_dir = workdir / "models", workdir / "index"
    model_dir.mkdir()
    from cadml_site.celery import app

    eager = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True  # seeding must not enqueue to a broker
    try:
        with django_db_blocker.unblock():
            api_key, admin_token = _seed_database(model_dir)
            database_url = current_database_url()
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = eager
    env = {**os.environ, "DATABASE_URL": database_url, "OMP_NUM_THREADS": "1",
           "CADML_MODEL_DIR": str(model_dir), "CADML_INDEX_DIR": str(index_dir),
           # throttling would answer 429 to most of the run (documented, but it would test nothing else)
           "CADML_THROTTLE_DEFAULT": "100000/min", "CADML_THROTTLE_UPLOAD": "100000/min",
           "CADML_THROTTLE_SENSITIVE": "100000/min"}
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    live = LiveStack(workdir=workdir, env=env)
    live.api_key, live.admin_token = api_key, admin_token
    try:
        live.start_service(workers=2)
        yield live
    finally:
        live.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def _wait_for_workers(live: LiveStack) -> None:
    """Both workers have loaded their state (index, model, parse pool): the first requests do not time out."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = (live.workdir / "gunicorn.log").read_text(errors="replace")
        if log.count("initialised:") >= 2:
            return
        time.sleep(0.5)
    raise AssertionError("gunicorn workers did not initialise:\n" + live.processes[0].log_tail())


def test_schemathesis_finds_nothing(fuzz_stack):
    live = fuzz_stack
    _wait_for_workers(live)
    schema = requests.get(live.base_url + "/api/schema/?format=json", timeout=30).json()
    operations = sum(1 for item in schema["paths"].values() for method in item
                     if method in ("get", "post", "put", "patch", "delete"))
    report_dir = live.workdir / "schemathesis"
    argv = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG),
        "run", live.base_url + "/api/schema/",
        "-H", f"X-API-Key: {live.api_key}", "-H", f"X-Admin-Token: {live.admin_token}",
        "--checks", "all", "--phases", PHASES, "--seed", str(SEED), "--max-examples", str(EXAMPLES_PER_OPERATION),
        # one worker: with two, st's threads raced inside CPython 3.11's ast.parse (hypothesis describing a filter
        # lambda: "SystemError: AST constructor recursion depth mismatch") and in its regex folding, 2 runs in 5
        "--workers", "1", "--no-shrink", "--request-timeout", "60",
        "--report", "json", "--report-dir", str(report_dir), "--report-json-path", str(report_dir / "run.json"),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT),
           "NO_COLOR": "1"}
    started = time.monotonic()
    run = subprocess.run(argv, cwd=live.workdir, env=env, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT_SECONDS)  # st keeps a cache in .schemathesis/ of its working directory
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    (report_dir / "output.txt").write_text(output)
    failures = output[output.find("= FAILURES ="):output.find("= WARNINGS =")] if "= FAILURES =" in output else ""
    report = json.loads((report_dir / "run.json").read_text())
    figures = (f"schemathesis {report['schemathesis_version']}, seed {report['seed']}, "
               f"{EXAMPLES_PER_OPERATION} examples per operation, phases {PHASES}: "
               f"{report['operations']['tested']}/{report['operations']['total']} operations, "
               f"{report['test_cases']['generated']} test cases, {elapsed:.0f} s")
    print(figures)  # the figures recorded in docs/reliability.md

    assert report["failures"] == [] and report["errors"] == [], f"{figures}\n{failures[:30000] or output[-20000:]}"
    # every operation was reached past authentication and permissions (a staff token without the role permissions
    # once left the 17 sensitive operations answering only 403, which st reports as a warning, not a failure)
    assert "Authentication failed" not in output, output[output.find("= WARNINGS ="):][:5000]
    assert run.returncode == 0, output[-20000:]
    assert report["operations"]["total"] == operations == report["operations"]["tested"], figures
    statuses = {name: phase["status"] for name, phase in report["phases"].items()}
    assert statuses == {"examples": "skip", "coverage": "success", "fuzzing": "success", "stateful": "success"}, (
        statuses)  # the schema holds no examples; the stateful phase follows its links
    log = (live.workdir / "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-5000:]
    assert live.api_key not in log and live.admin_token not in log


# ---- our checks can fail (they are part of the run above) -----------------------------------------------------
def test_problem_check_accepts_our_problem_body():
    body = {"type": "t", "title": "t", "status": 404, "detail": "d", "code": "not_found", "stage": "request",
            "message": "d", "context": {}, "timestamp": "2026-12-06T00:00:00Z", "request_id": "r"}
    assert problem_defects(404, "application/problem+json", json.dumps(body).encode()) == []
    assert problem_defects(200, "application/json", b"[]") == []


def test_problem_check_names_what_an_error_body_lacks():
    defects = problem_defects(500, "text/html; charset=utf-8", b"<h1>Server Error</h1>")
    assert defects == ["content type is 'text/html; charset=utf-8', not application/problem+json",
                       "the body is not JSON"]
    body = {"status": 400, "detail": "DRF's own shape", "context": []}
    defects = problem_defects(400, "application/problem+json", json.dumps(body).encode())
    assert defects == ["field 'code' is missing", "field 'stage' is missing", "field 'message' is missing",
                       "field 'timestamp' is missing", "context is not an object"]
    assert problem_defects(429, "application/problem+json", json.dumps({**body, "status": 400}).encode())[-2] == (
        "body status 400 differs from the HTTP status 429")


def test_secret_check_finds_an_echoed_credential():
    headers = {"X-API-Key": "abcd1234.secret-part", "X-Admin-Token": "efgh5678.other"}
    assert leaked_secrets(headers, b'{"detail": "key abcd1234.secret-part is bad"}') == ["X-API-Key"]
    assert leaked_secrets(headers, b'{"api_key_prefix": "abcd1234"}') == []
