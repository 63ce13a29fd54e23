"""/metrics behind a bearer token (CADML_METRICS_TOKEN), open only when unset and said so (issue 18, finding 8)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests-0123456789"


def test_with_a_token_a_scrape_without_it_is_401_with_www_authenticate(client, settings):
    settings.CADML_METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "metrics_token_required"
    assert b"django_http_requests" not in response.content


@pytest.mark.parametrize("header", [
    "Bearer wrong-token-wrong-token-wrong",
    "Bearer " + TOKEN[:-1],
    "Bearer " + TOKEN + "x",
    "Basic " + TOKEN,
    TOKEN,
    "Bearer",
    "",
])
def test_a_wrong_token_or_scheme_is_refused(client, settings, header):
    settings.CADML_METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 401


def test_the_right_bearer_token_scrapes(client, settings):
    settings.CADML_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer   {TOKEN}").status_code == 200


def test_without_a_token_metrics_stay_open(client, settings):
    settings.CADML_METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 200


def test_the_comparison_is_constant_time_over_digests(monkeypatch, rf, settings):
    """hmac.compare_digest on sha256 digests: equal lengths whatever the presented token's length."""
    import cadml_site.api.views as views

    settings.CADML_METRICS_TOKEN = TOKEN
    calls = []
    real = views.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(views.hmac, "compare_digest", spy)
    for presented in ("x", TOKEN, "y" * 500):
        views.metrics_scrape_allowed(rf.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {presented}"))
    assert calls == [(32, 32)] * 3


def _check(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"], **env_overrides})
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_startup_check_warns_while_metrics_are_open_and_not_once_a_token_is_set():
    open_ = _check()
    assert open_.returncode == 0 and "cadml.W002" in open_.stdout + open_.stderr
    assert "/metrics is open" in open_.stdout + open_.stderr
    closed = _check(CADML_METRICS_TOKEN=TOKEN)
    assert closed.returncode == 0 and "cadml.W002" not in closed.stdout + closed.stderr


def test_a_short_token_is_refused_at_startup():
    result = _check(CADML_METRICS_TOKEN="short")
    assert result.returncode != 0 and "CADML_METRICS_TOKEN must be at least 24" in result.stderr


def test_gunicorn_says_at_start_up_that_metrics_are_open(settings):
    spec = importlib.util.spec_from_file_location("cadml_gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)

    class Log:
        def __init__(self):
            self.warnings = []

        def warning(self, message, *args):
            self.warnings.append(message % args)

    class Server:
        log = Log()

    settings.CADML_METRICS_TOKEN = None
    conf.when_ready(Server())
    assert len(Server.log.warnings) == 1 and "/metrics is open" in Server.log.warnings[0]
    settings.CADML_METRICS_TOKEN = TOKEN
    conf.when_ready(Server())
    assert len(Server.log.warnings) == 1
