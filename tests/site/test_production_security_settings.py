"""Production transport settings behind one switch, CADML_PRODUCTION_SECURITY, with `check --deploy` clean
(issue 18, finding 9). Each test starts a child process with that environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "CADML_PRODUCTION_SECURITY": "true",
    "DJANGO_ALLOWED_HOSTS": "cadml.example.com",
    "CADML_METRICS_TOKEN": "metrics-" + secrets.token_urlsafe(24),
}


def _run(argv: list[str], **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_", "GUNICORN_"))}
    env.update({"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"]})
    env.update(overrides)
    return subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


def test_check_deploy_is_clean_in_production_mode():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_is_clean_behind_a_tls_proxy_too():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION,
                  DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_the_switch_check_deploy_still_names_the_transport_warnings():
    """The default stays usable on http://127.0.0.1 (make run); the switch is what production sets."""
    result = _run(["check", "--deploy"], DJANGO_ALLOWED_HOSTS="cadml.example.com")
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


SHOW = """
import json
from django.conf import settings as s
from django.test import Client
c = Client()
plain = c.get("/admin/login/", HTTP_HOST="cadml.example.com")
proxied = c.get("/api/v1/health/live/", HTTP_HOST="cadml.example.com", HTTP_X_FORWARDED_PROTO="https")
probe = c.get("/api/v1/health/live/", HTTP_HOST="cadml.example.com")
print(json.dumps({
    "hsts": s.SECURE_HSTS_SECONDS, "subdomains": s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "preload": s.SECURE_HSTS_PRELOAD,
    "redirect": s.SECURE_SSL_REDIRECT, "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "proxy": list(s.SECURE_PROXY_SSL_HEADER or []),
    "plain_status": plain.status_code, "plain_location": plain.get("Location"),
    "proxied_status": proxied.status_code, "proxied_hsts": proxied.get("Strict-Transport-Security"),
    "probe_status": probe.status_code,
}))
"""


def test_the_switch_sets_hsts_redirect_secure_cookies_and_the_proxy_header():
    result = _run(["shell", "-c", SHOW], **PRODUCTION, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["hsts"] == 31_536_000 and got["subdomains"] and got["preload"]
    assert got["redirect"] and got["session_secure"] and got["csrf_secure"]
    assert got["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["plain_status"] == 301 and got["plain_location"] == "https://cadml.example.com/admin/login/"
    assert got["proxied_status"] == 200 and got["proxied_hsts"].startswith("max-age=31536000; includeSubDomains")
    assert got["probe_status"] == 200  # load-balancer probes over plain HTTP are not redirected


def test_production_mode_refuses_debug_and_a_weak_secret_key():
    debug = _run(["check"], **PRODUCTION, DJANGO_DEBUG="true")
    assert debug.returncode != 0 and "CADML_PRODUCTION_SECURITY=true needs DJANGO_DEBUG=false" in debug.stderr
    weak = _run(["check"], **PRODUCTION, DJANGO_SECRET_KEY="k" * 40)
    assert weak.returncode != 0 and "at least 50 random characters" in weak.stderr
    bad_header = _run(["check"], **PRODUCTION, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    assert bad_header.returncode != 0 and "DJANGO_SECURE_PROXY_SSL_HEADER must be a header name" in bad_header.stderr
