"""features is the floor: no module under features/ imports vectors, modelops, cachectl or analysis, not even
lazily inside a function (the analysis app, the top layer, calls features and hands it what it needs)."""

from __future__ import annotations

import ast
from pathlib import Path

FEATURES_DIR = Path(__file__).resolve().parents[2] / "features"
ABOVE = ("vectors", "modelops", "cachectl", "analysis")
DYNAMIC_IMPORTERS = ("import_module", "__import__")


def _is_above(module: str) -> bool:
    return module.split(".", 1)[0] in ABOVE


def imports_from_above(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of an app above features in `source`: `import x`, `from x import y` at any
    depth (a function's lazy import too) and `importlib.import_module("x...")` / `__import__("x...")`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if _is_above(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_above(node.module):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            target = node.args[0].value
            if name in DYNAMIC_IMPORTERS and isinstance(target, str) and _is_above(target):
                found.append((node.lineno, target))
    return found


def test_the_guard_sees_every_kind_of_import():
    source = (
        "import vectors.selectors\n"
        "from cachectl.services import feature_cache_get\n"
        "def later():\n"
        "    from modelops.selectors import classify_vector\n"
        "    import importlib\n"
        "    importlib.import_module('analysis.services')\n"
        "from features.extractors import slots\n"
        "from . import sibling\n"
        "import vectorsmith\n"
    )
    assert imports_from_above(source) == [(1, "vectors.selectors"), (2, "cachectl.services"),
                                          (4, "modelops.selectors"), (6, "analysis.services")]


def test_no_module_of_features_imports_an_app_above_it():
    modules = sorted(FEATURES_DIR.rglob("*.py"))
    assert len(modules) > 30 and FEATURES_DIR / "services.py" in modules
    offending = [f"{path.relative_to(FEATURES_DIR.parent)}:{line}: {module}"
                 for path in modules for line, module in imports_from_above(path.read_text(encoding="utf-8"))]
    assert offending == [], "features imports an app above it:\n" + "\n".join(offending)
