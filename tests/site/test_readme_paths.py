"""Every address the README shows (its table of paths, the Quick start's links and commands) exists: a path that
answers 404 fails here instead of for a newcomer."""

from __future__ import annotations

import re

import pytest
from django.urls import Resolver404, resolve

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def readme_paths() -> list[str]:
    table = re.findall(r"^\| (`/[^|]*)\|", README, flags=re.M)
    in_table = [path for cell in table for path in re.findall(r"`(/[^`\s]*)`", cell)
                if not path.endswith("…")]  # a prefix ("/api/v1/…"), not an address
    links = [link.rstrip(".,;:") for link in re.findall(r"http://127\.0\.0\.1:8000(/[^\s)`\"'\\]*)", README)]
    return sorted(set(in_table + links))


def test_the_readme_names_the_health_endpoints_where_they_are():
    paths = readme_paths()
    assert {"/api/v1/health/live/", "/api/v1/health/ready/", "/admin/"} <= set(paths)
    assert "/health/live/" not in paths


@pytest.mark.parametrize("path", readme_paths())
def test_readme_path_resolves(path):
    try:
        resolve(path.split("?")[0])
    except Resolver404:
        pytest.fail(f"README shows {path}, which answers 404")
