"""What the parsers and a parse worker process import: no Django, no Celery, and the worker neither the dispatch nor
the pool (no import circle through the worker; no database needed)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PARSER_MODULES = ["document", "errors", "sniff", "stl_layout", "mesh_document", "stl", "obj", "dxf", "step_iges",
                  "format_parsers", "dispatch"]


def _modules_after_importing(*modules: str) -> set[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {list(modules)!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def _framework(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if m.split(".")[0] in ("django", "celery", "kombu", "rest_framework"))


def test_a_parse_worker_imports_no_django_and_neither_the_dispatch_nor_the_pool():
    loaded = _modules_after_importing("features.parse_workers.worker")
    assert _framework(loaded) == []
    assert "cadml_site.errors" in loaded  # the parse errors are the service's one error vocabulary
    assert {"features.parsers.dispatch", "features.parse_workers.pool"} & loaded == set()


def test_every_parser_module_is_django_free():
    loaded = _modules_after_importing(*[f"features.parsers.{name}" for name in PARSER_MODULES],
                                      "features.parse_workers.pool")
    assert _framework(loaded) == []
