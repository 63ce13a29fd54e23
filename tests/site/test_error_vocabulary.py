"""One error vocabulary: every code the code base names is in ``cadml_site.errors.ERROR_CODES`` and answers the one
status written there, in every app (no database needed)."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest
from rest_framework import exceptions as drf

from cadml_site.api.exceptions import drf_problem_code, problem_body
from cadml_site.errors import ERROR_CODES, DomainError, UnknownErrorCode, status_of

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = [p.parent.name for p in sorted(ROOT.glob("*/apps.py"))] + ["cadml_site"]


def _runtime_sources() -> list[pathlib.Path]:
    files = []
    for package in sorted(set(RUNTIME_PACKAGES)):
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return files


def _error_class_names() -> set[str]:
    """Every class the code base raises errors with: the DomainError family and the parse/auth exceptions."""
    for path in _runtime_sources():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        if "management.commands" in module:
            continue
        importlib.import_module(module)
    names, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names | {"CadParseError", "ModelSecurityError", "_Forbidden", "_Unauthenticated"}


def _codes_named_in_source() -> dict[str, list[str]]:
    """code -> where: class attributes `code = "..."` of error classes and `code=` / positional codes at raises."""
    error_classes = _error_class_names()
    found: dict[str, list[str]] = {}
    # helpers that build an error from a `code` parameter: name -> its position
    code_position: dict[str, int] = {}
    for path in _runtime_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args]
                if "code" in names:
                    code_position[node.name] = names.index("code")

    def add(code, where):
        found.setdefault(code, []).append(where)

    for path in _runtime_sources():
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name in error_classes:
                for stmt in node.body:
                    if not isinstance(stmt, ast.Assign):
                        continue
                    target = stmt.targets[0]
                    names = [e.id for e in target.elts] if isinstance(target, ast.Tuple) else [getattr(target, "id", "")]
                    values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
                    for name, value in zip(names, values):
                        if name == "code" and isinstance(value, ast.Constant):
                            add(value.value, f"{where}:{stmt.lineno} class {node.name}")
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func).rsplit(".", 1)[-1]
                position = code_position.get(func)
                if position is not None and func not in error_classes and len(node.args) > position:
                    literal = node.args[position]
                    if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                        add(literal.value, f"{where}:{node.lineno} {func}(...)")
                if func not in error_classes and func not in ("problem_body", "plain_problem"):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        add(keyword.value.value, f"{where}:{node.lineno} {func}(code=...)")
                if func in ("_Forbidden", "_Unauthenticated", "plain_problem") and node.args:
                    last = node.args[-1] if func != "plain_problem" else node.args[0]
                    if isinstance(last, ast.Constant):
                        add(last.value, f"{where}:{node.lineno} {func}(...)")
    return found


def test_every_code_the_code_base_names_is_in_the_one_table():
    named = _codes_named_in_source()
    assert len(named) > 60
    missing = {code: where for code, where in named.items() if code not in ERROR_CODES}
    assert not missing, missing


def test_every_code_of_the_table_is_named_somewhere():
    """A code nothing raises is a stale row: the table lists what the service answers, not what it once did."""
    named = _codes_named_in_source()
    text = "\n".join(p.read_text() for p in _runtime_sources() if p != ROOT / "cadml_site" / "errors.py")
    stale = [code for code in ERROR_CODES if code not in named and f'"{code}"' not in text]
    assert stale == []


def test_every_parse_error_code_answers_the_status_of_its_kind():
    from features.parsers.errors import PARSE_ERROR_CODES

    status_of_kind = {"unsupported": 415, "too_large": 413, "corrupt": 422}
    assert {code: status_of(code) for code in PARSE_ERROR_CODES} == {
        code: status_of_kind[kind] for code, kind in PARSE_ERROR_CODES.items()}


def test_one_code_one_status_across_apps():
    """Codes that two apps raise (dimension_mismatch, unknown_feature_version...) answer the same status: they are
    one row of the table, so a raise cannot pick another status."""
    with pytest.raises(TypeError):
        DomainError("x", code="dimension_mismatch", status=400)  # there is no per-raise status any more
    from modelops.errors import DimensionMismatch as ModelDimensionMismatch
    from vectors.errors import DimensionMismatch as VectorDimensionMismatch
    from vectors.errors import UnknownFeatureVersion

    assert ModelDimensionMismatch("x").status == VectorDimensionMismatch("x").status == 422
    assert UnknownFeatureVersion("x").status == 422


def test_a_code_outside_the_table_fails_at_once():
    with pytest.raises(UnknownErrorCode):
        DomainError("x", code="made_up_code")
    with pytest.raises(UnknownErrorCode):
        type("Invented", (DomainError,), {"code": "another_made_up_code"})
    with pytest.raises(UnknownErrorCode):
        problem_body(code="made_up_code", stage="request", message="x")


@pytest.mark.parametrize("exc", [
    drf.ValidationError("x"), drf.ParseError(), drf.NotAuthenticated(), drf.AuthenticationFailed(),
    drf.PermissionDenied(), drf.NotFound(), drf.MethodNotAllowed("POST"), drf.NotAcceptable(),
    drf.UnsupportedMediaType("text/x"), drf.Throttled(wait=3),
], ids=lambda exc: type(exc).__name__)
def test_drf_exceptions_map_to_codes_with_their_own_status(exc):
    assert status_of(drf_problem_code(exc)) == exc.status_code
