"""Malformed environment values stop the service at start-up with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cadml_site.env import env_bool, env_choice, env_float, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("call, message", [
    (lambda e: env_int("N", 1, environ=e), "N must be an integer, got 'abc'"),
    (lambda e: env_float("N", 1.0, environ=e), "N must be a number, got 'abc'"),
    (lambda e: env_bool("N", False, environ=e), "N must be a boolean"),
    (lambda e: env_choice("N", "a", ("a", "b"), environ=e), "N must be one of a, b, got 'abc'"),
    (lambda e: env_url("N", None, ("redis",), environ=e), "N must use one of the schemes redis"),
])
def test_helpers_reject_malformed_values(call, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        call({"N": "abc"})


def test_helpers_accept_good_values_and_defaults():
    env = {"I": "5", "F": "0.5", "B": "yes", "L": "a, b", "C": "b", "U": "redis://x:1/0"}
    assert env_int("I", 1, environ=env) == 5
    assert env_float("F", 1.0, environ=env) == 0.5
    assert env_bool("B", False, environ=env) is True
    assert env_list("L", [], environ=env) == ["a", "b"]
    assert env_choice("C", "a", ("a", "b"), environ=env) == "b"
    assert env_url("U", None, ("redis",), environ=env) == "redis://x:1/0"
    assert env_int("MISSING", 7, environ=env) == 7


def test_range_and_inf_are_rejected():
    with pytest.raises(ImproperlyConfigured, match=">= 1"):
        env_int("W", 1, min_value=1, environ={"W": "0"})
    with pytest.raises(ImproperlyConfigured, match="finite"):
        env_float("F", 1.0, environ={"F": "inf"})
    with pytest.raises(ImproperlyConfigured, match="empty items"):
        env_list("L", [], environ={"L": "a,,b"})


def _start(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_", "GUNICORN_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"]})
    env.update(overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("overrides, message", [
    ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is required but not set"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY must be at least 32 characters"),
    ({"GUNICORN_WORKERS": "two"}, "GUNICORN_WORKERS must be an integer, got 'two'"),
    ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be a boolean"),
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must use one of the schemes"),
    ({"CADML_FEATURE_VERSION": "v9"}, "CADML_FEATURE_VERSION must be one of v1, v2, v3, v4, v5"),
    ({"CADML_THROTTLE_DEFAULT": "fast"}, "CADML_THROTTLE_DEFAULT must look like"),
    ({"CADML_MODEL_HASH_ALLOWLIST": "abc"}, "CADML_MODEL_HASH_ALLOWLIST entries must be sha256"),
])
def test_service_refuses_to_start_with_malformed_environment(overrides, message):
    result = _start(**overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_service_starts_with_a_clean_environment():
    result = _start()
    assert result.returncode == 0, result.stderr
