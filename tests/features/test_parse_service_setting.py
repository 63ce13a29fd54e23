"""``CADML_PARSE_SERVICE_SOCKET``: empty by default (one in-process pool per process), a relative path is under
``CADML_VAR_DIR``, a path longer than a Unix socket's stops the service at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SOCKET = ("import django; django.setup(); from django.conf import settings; "
                "print(repr(settings.CADML_PARSE_SERVICE_SOCKET))")


def _socket_setting(tmp_path, value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": str(tmp_path)})
    if value is not None:
        env["CADML_PARSE_SERVICE_SOCKET"] = value
    return subprocess.run([sys.executable, "-c", PRINT_SOCKET], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_empty_by_default_relative_under_the_var_dir_absolute_as_given(tmp_path):
    assert _socket_setting(tmp_path, None).stdout.strip() == "''"
    assert _socket_setting(tmp_path, "").stdout.strip() == "''"
    relative = _socket_setting(tmp_path, "parse-service.sock")
    assert relative.stdout.strip() == repr(str(tmp_path.resolve() / "parse-service.sock")), relative.stderr
    assert _socket_setting(tmp_path, "/run/cadml/parse.sock").stdout.strip() == "'/run/cadml/parse.sock'"


def test_a_path_too_long_for_a_unix_socket_is_refused(tmp_path):
    result = _socket_setting(tmp_path, "/tmp/" + "p" * 120 + ".sock")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CADML_PARSE_SERVICE_SOCKET is longer" in result.stderr
