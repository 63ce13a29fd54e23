"""The client's operation table (clients/python/cadml_client/operations.py) against our OpenAPI schema, generated
in process by drf-spectacular: every method, path, path parameter, query parameter and body field the client can
send exists in the schema, so that the test fails when the two disagree."""

from __future__ import annotations

import inspect
import re

import pytest
from cadml_client import OPERATIONS, CadmlClient, Operation
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def schema_problems(schema: dict, op: Operation) -> list[str]:
    """What of ``op`` the schema does not have (empty when they agree)."""
    path_item = schema["paths"].get(op.path)
    if path_item is None:
        return [f"no path {op.path}"]
    operation = path_item.get(op.method.lower())
    if operation is None:
        return [f"no {op.method} on {op.path}"]
    problems = []
    params = operation.get("parameters", [])
    in_path = {p["name"] for p in params if p["in"] == "path"}
    in_query = {p["name"] for p in params if p["in"] == "query"}
    if op.path_params != in_path:
        problems.append(f"path parameters {sorted(op.path_params)} != schema's {sorted(in_path)}")
    # a family of parameters ("meta.<field>") cannot be a schema parameter: the operation's description names it
    families = {name for name in op.query if "<" in name}
    problems += [f"no query parameter {name}" for name in sorted(op.query - in_query - families)]
    problems += [f"the description does not name {name}" for name in sorted(families)
                 if name not in operation.get("description", "")]
    if op.body or op.files:
        content = operation.get("requestBody", {}).get("content", {})
        media = "multipart/form-data" if op.files else "application/json"
        if media not in content:
            return problems + [f"no {media} request body"]
        body = _resolve(schema, content[media]["schema"])
        properties = body.get("properties", {})
        problems += [f"no body field {name}" for name in sorted((op.body | op.files) - set(properties))]
        problems += [f"{name} is not a file in the schema" for name in sorted(op.files)
                     if properties.get(name, {}).get("format") != "binary"]
        problems += [f"the client cannot send required field {name}" for name in body.get("required", [])
                     if name not in op.body | op.files]
    return problems


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_exists_in_the_schema(schema, name):
    assert schema_problems(schema, OPERATIONS[name]) == []


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operations_the_schema_guards_with_the_admin_token_are_ops_calls(schema, name):
    op = OPERATIONS[name]
    security = schema["paths"][op.path][op.method.lower()].get("security", [])
    if any("AdminTokenAuth" in requirement for requirement in security):
        assert op.admin, f"{name} needs X-Admin-Token"


@pytest.mark.parametrize("bogus, problem", [
    (Operation("GET", "/api/v1/vectors/nowhere/"), "no path /api/v1/vectors/nowhere/"),
    (Operation("PUT", "/api/v1/model/"), "no PUT on /api/v1/model/"),
    (Operation("GET", "/api/v1/vectors/", query=frozenset({"page"})), "no query parameter page"),
    (Operation("POST", "/api/v1/vectors/similarity/", body=frozenset({"key", "top"})), "no body field top"),
    (Operation("GET", "/api/v1/vectors/migrate/runs/{id}/"), "no path /api/v1/vectors/migrate/runs/{id}/"),
    (Operation("POST", "/api/v1/analyze/", body=frozenset({"feature_version"})),
     "no application/json request body"),
    (Operation("POST", "/api/v1/cache/apply/", body=frozenset({"capacity"})),
     "the client cannot send required field reason"),
])
def test_the_check_reports_each_kind_of_disagreement(schema, bogus, problem):
    assert problem in schema_problems(schema, bogus)


def test_every_public_method_goes_through_the_operation_table():
    """So that the table, checked above, is everything the client sends."""
    public = {name: fn for name, fn in inspect.getmembers(CadmlClient, inspect.isfunction)
              if not name.startswith("_") and name not in ("call", "close")}
    used = set()
    for name, fn in public.items():
        source = inspect.getsource(fn)
        calls = set(re.findall(r'self\.(?:call|_json)\("(\w+)"', source))
        delegates = set(re.findall(r"self\.(\w+)\(", source)) & set(public)
        assert calls or delegates, f"{name} sends nothing through the operation table"
        assert calls <= set(OPERATIONS), f"{name}: {calls - set(OPERATIONS)}"
        used |= calls
    assert used == set(OPERATIONS), f"operations without a method: {set(OPERATIONS) - used}"


def test_the_package_type_checks_strictly():
    """The client is typed (it ships py.typed): mypy --strict finds nothing."""
    import subprocess
    import sys

    from tests.clients.conftest import CLIENT_SRC

    assert (CLIENT_SRC / "cadml_client" / "py.typed").is_file()
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/dev/null", "cadml_client"],
                          cwd=CLIENT_SRC, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
