"""A serving process holds no tooling, test or benchmark code.

A fresh interpreter imports what a gunicorn worker imports (``cadml_site.wsgi.application``, then every URL pattern
resolved, recursively) and what a Celery worker imports (``cadml_site.celery`` and every app's ``tasks``), plus every
app's ``admin`` and ``api`` modules; no ``tools.*``, ``tests.*`` or ``bench.*`` module may then be loaded. The
management commands that run the tools (``stress_*``, ``metrics_consistency_check``) import them only inside their
methods, so loading every project command class must not pull them in either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

FORBIDDEN_PACKAGES = ("tools", "tests", "bench")

WORKER_IMPORTS = r"""
import importlib
import importlib.util
import json
import pkgutil
import sys

from cadml_site.wsgi import application  # what gunicorn loads (wsgi_app = "cadml_site.wsgi:application")

import cadml_site.celery  # what a Celery worker loads
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.urls import URLResolver, get_resolver

FORBIDDEN = tuple(sys.argv[1].split(","))


def forbidden_modules():
    return sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)


def count_patterns(patterns):
    # URLResolver.url_patterns imports the included urls module (and through it the views) on first access
    return sum(count_patterns(p.url_patterns) if isinstance(p, URLResolver) else 1 for p in patterns)


def import_with_submodules(name):
    if importlib.util.find_spec(name) is None:
        return []
    module = importlib.import_module(name)
    names = [name]
    if hasattr(module, "__path__"):  # a package (features/api/): every module in it
        for info in pkgutil.walk_packages(module.__path__, prefix=name + "."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


url_patterns = count_patterns(get_resolver().url_patterns)
imported = [name for config in apps.get_app_configs() for part in ("admin", "api", "tasks")
            for name in import_with_submodules(f"{config.name}.{part}")]
after_worker = forbidden_modules()

root = str(settings.BASE_DIR)
project_apps = {c.name for c in apps.get_app_configs() if str(c.path).startswith(root)}
commands = sorted(name for name, app in get_commands().items() if app in project_apps)
for name in commands:
    load_command_class(get_commands()[name], name)
after_commands = forbidden_modules()

for extra in sys.argv[2:]:  # the test's own proof that a loaded tool module is seen
    importlib.import_module(extra)
print(json.dumps({"application": type(application).__name__, "url_patterns": url_patterns, "imported": imported,
                  "commands": commands, "after_worker": after_worker, "after_commands": after_commands,
                  "at_exit": forbidden_modules()}))
"""


def run_worker_imports(*extra_modules: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cadml_site.settings", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the project root is on the path as the working directory, as under gunicorn
    completed = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS, ",".join(FORBIDDEN_PACKAGES), *extra_modules],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_worker_process_imports_no_tooling_test_or_benchmark_module():
    result = run_worker_imports()
    assert result["application"] == "WSGIHandler"
    assert result["url_patterns"] > 50
    for app in ("features", "vectors", "modelops", "cachectl", "analysis"):
        for part in ("admin", "api", "tasks"):
            if (PROJECT_ROOT / app / f"{part}.py").is_file() or (PROJECT_ROOT / app / part).is_dir():
                assert f"{app}.{part}" in result["imported"]
        assert any(name.startswith(f"{app}.api.") for name in result["imported"])
    assert result["after_worker"] == []
    assert {"stress_concurrency_reload", "stress_degradation_flapping", "stress_memory_gc_check",
            "metrics_consistency_check"} <= set(result["commands"])
    assert result["after_commands"] == []


def test_the_check_sees_a_loaded_tool_module():
    result = run_worker_imports("tools.stress.client", "tools.rules_lint.consistency")
    assert result["after_worker"] == []
    assert {"tools", "tools.stress", "tools.stress.client", "tools.rules_lint.consistency"} <= set(result["at_exit"])
