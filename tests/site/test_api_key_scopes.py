"""API key scopes (issue 18, finding 5): a ``read`` key reads everything and gets 403 on every write.

The walk covers every operation of the OpenAPI schema (and checks that the schema covers every API view of the
URLconf), with a read key *and* a staff admin token, so that only the scope can refuse.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from cadml_site.api.permissions import ApiKeyScopePermits
from tests.openapi import schema_operations

pytestmark = pytest.mark.django_db

# Every operation that changes state. The schema must say read_write for exactly these.
WRITES = {
    ("POST", "/api/v1/analyze/"),
    ("POST", "/api/v1/auth/api-keys/"),
    ("POST", "/api/v1/auth/api-keys/{prefix}/revoke/"),
    ("POST", "/api/v1/vectors/"),
    ("DELETE", "/api/v1/vectors/{key}/"),
    ("POST", "/api/v1/vectors/index/recover/"),
    ("POST", "/api/v1/vectors/index/rebuild/"),
    ("POST", "/api/v1/vectors/index/degrade/"),
    ("POST", "/api/v1/vectors/migrate/"),
    ("POST", "/api/v1/model/versions/"),
    ("POST", "/api/v1/model/versions/register/"),
    ("POST", "/api/v1/model/reload/"),
    ("POST", "/api/v1/model/rollback/"),
    ("POST", "/api/v1/cache/apply/"),
    ("POST", "/api/v1/cache/rollback/"),
    ("POST", "/api/v1/cache/confirm/"),
    ("POST", "/api/v1/cache/snapshots/{snapshot_id}/restore/"),
    ("POST", "/api/v1/cache/prewarm/"),
}
# POSTs that only read.
POST_READS = {("POST", "/api/v1/vectors/similarity/"), ("POST", "/api/v1/vectors/similarity/batch/"),
              ("POST", "/api/v1/model/predict/")}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict):
    for path, method, operation in schema_operations(schema):
        yield method.upper(), path, operation


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]*id\}", "1", path).replace("{key}", "k00001").replace("{prefix}", "abcd1234")


@pytest.fixture
def read_key_ops_client(make_api_key, admin_token_secret) -> APIClient:
    """A read-only key with the admin token of active staff user ops-alice: only the scope can refuse."""
    _, secret = make_api_key("reader", scope="read")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret, HTTP_X_ADMIN_TOKEN=admin_token_secret)
    return client


@pytest.fixture
def read_key_client(make_api_key) -> APIClient:
    _, secret = make_api_key("reader-only", scope="read")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


def test_the_schema_names_the_scope_of_every_keyed_operation_and_the_writes_are_the_expected_ones():
    schema = _schema()
    scopes = {(method, path): op.get("x-api-key-scope") for method, path, op in _operations(schema)}
    health = {k for k in scopes if k[1].startswith("/api/v1/health/")}
    assert all(scopes[k] is None for k in health)
    keyed = {k: v for k, v in scopes.items() if k not in health}
    assert {k for k, v in keyed.items() if v == "read_write"} == WRITES
    assert all(v == "read" for k, v in keyed.items() if k not in WRITES)
    assert POST_READS <= set(keyed)
    for method, path, op in _operations(schema):
        if (method, path) in WRITES:
            assert "API key scope: read_write" in op["description"], (method, path)
            assert "api_key_scope_insufficient" in op["responses"]["403"]["description"], (method, path)
    description = schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"]
    assert "read_write" in description and "x-api-key-scope" in description


def _api_views():
    """(pattern, view class) for every view under /api/v1/ of the URLconf."""
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and hasattr(entry.callback, "view_class"):
                yield prefix + str(entry.pattern), entry.callback.view_class
    return [(p, v) for p, v in walk(get_resolver().url_patterns) if p.startswith("api/v1/")]


def test_every_api_view_of_the_urlconf_is_in_the_schema_and_checks_the_scope_unless_it_is_open():
    schema_paths = {re.sub(r"\{[^}]+\}", "{}", p) for p in _schema()["paths"]}
    views = _api_views()
    assert len(views) >= 30
    for pattern, view_class in views:
        assert "/" + re.sub(r"<[^>]+>", "{}", pattern) in schema_paths, pattern
        permissions = view_class().get_permissions()
        if any(isinstance(p, AllowAny) for p in permissions):
            assert pattern.startswith("api/v1/health/"), pattern
            continue
        assert any(isinstance(p, ApiKeyScopePermits) for p in permissions), pattern


def test_a_read_key_gets_403_on_every_write_and_no_403_on_any_read(read_key_ops_client):
    refused, allowed = [], []
    for method, path, operation in _operations(_schema()):
        if path.startswith("/api/v1/health/"):
            continue
        response = read_key_ops_client.generic(method, _concrete(path), "{}", content_type="application/json")
        body = response.json() if response["Content-Type"].endswith("json") else {}
        if (method, path) in WRITES:
            assert response.status_code == 403, (method, path, response.content)
            assert response["Content-Type"] == "application/problem+json"
            assert body["code"] == "api_key_scope_insufficient", (method, path, body)
            refused.append((method, path))
        else:
            assert response.status_code not in (401, 403), (method, path, response.content)
            allowed.append((method, path))
    assert set(refused) == WRITES and len(allowed) >= 15


def test_the_same_walk_with_a_read_write_key_is_never_refused_for_scope(ops_client):
    for method, path, _ in _operations(_schema()):
        response = ops_client.generic(method, _concrete(path), "{}", content_type="application/json")
        if response["Content-Type"] == "application/problem+json":
            assert response.json()["code"] != "api_key_scope_insufficient", (method, path)


def test_a_read_key_cannot_overwrite_a_vector_or_its_training_label(read_key_client, key_client):
    vector = {"feature_version": "v4", "key": "part-1", "values": [1.0] * 24, "meta": {"part_type": "bracket"}}
    assert key_client.post("/api/v1/vectors/", vector, format="json").status_code == 201
    forged = {**vector, "meta": {"part_type": "gear"}}
    response = read_key_client.post("/api/v1/vectors/", forged, format="json")
    assert response.status_code == 403 and response.json()["code"] == "api_key_scope_insufficient"
    bulk = read_key_client.post("/api/v1/vectors/", {"feature_version": "v4", "vectors": [forged]}, format="json")
    assert bulk.status_code == 403
    assert read_key_client.get("/api/v1/vectors/part-1/?feature_version=v4").json()["meta"] == {"part_type": "bracket"}
    search = read_key_client.post("/api/v1/vectors/similarity/", {"feature_version": "v4", "key": "part-1", "k": 1},
                                  format="json")
    assert search.status_code == 200


def _stl() -> bytes:
    from tests.features.cad_builders import make_binary_stl, make_box_triangles

    return make_binary_stl(make_box_triangles())


def test_analyze_is_a_read_without_registration_and_a_write_with_it(read_key_client):
    from features.models import CadFile
    from vectors.models import Vector

    def analyze(**fields):
        return read_key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("box.stl", _stl()), **fields},
                                    format="multipart")

    for fields in ({}, {"register_vector": "true"}, {"register_vector": "maybe"}):
        response = analyze(**fields)
        assert response.status_code == 403, fields
        assert response.json()["code"] == "api_key_scope_insufficient"
    assert not CadFile.objects.exists()
    response = analyze(register_vector="false", classify="false")
    assert response.status_code == 201, response.content
    assert response.json()["vector"].get("registered") in (None, False)
    assert not Vector.objects.exists()


def test_predict_is_a_read(read_key_client):
    response = read_key_client.post("/api/v1/model/predict/", {"feature_version": "v4", "values": [0.0] * 24},
                                    format="json")
    assert response.status_code == 503 and response.json()["code"] == "no_active_model"


def test_issue_api_takes_a_scope_and_whoami_shows_it(ops_client):
    response = ops_client.post("/api/v1/auth/api-keys/", {"name": "bad", "scope": "admin"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "scope"
    response = ops_client.post("/api/v1/auth/api-keys/", {"name": "reader", "scope": "read"}, format="json")
    assert response.status_code == 201 and response.json()["scope"] == "read"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=response.json()["secret"])
    assert client.get("/api/v1/auth/whoami/").json()["api_key_scope"] == "read"
    refused = client.post("/api/v1/vectors/", {"feature_version": "v4", "key": "x", "values": [1.0] * 24},
                          format="json")
    assert refused.status_code == 403


def test_create_api_key_command_takes_a_scope():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_api_key", "cli-reader", "--scope", "read", stdout=out)
    assert "scope read" in out.getvalue()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=out.getvalue().strip().split("\n")[-1])
    assert client.get("/api/v1/auth/whoami/").json()["api_key_scope"] == "read"


def test_bootstrap_credentials_key_is_read_write_and_says_so(tmp_path):
    import io

    from django.core.management import call_command

    from cadml_site.api.models import ApiKey

    call_command("bootstrap_credentials", "--file", str(tmp_path / "credentials"), stdout=io.StringIO())
    values = dict(line.split("=", 1) for line in (tmp_path / "credentials").read_text().splitlines())
    assert values["API_KEY_SCOPE"] == "read_write"
    assert ApiKey.objects.get(name="local").scope == "read_write"


def test_keys_that_existed_before_scopes_keep_read_and_write(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("cadml_api", "0001_initial")])
    old = executor.loader.project_state([("cadml_api", "0001_initial")]).apps.get_model("cadml_api", "ApiKey")
    old.objects.create(name="legacy", prefix="0123abcd", secret_hash="0" * 64)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from cadml_site.api.models import ApiKey

    assert ApiKey.objects.get(name="legacy").scope == "read_write"


def test_admin_lists_the_scope_and_keeps_it_read_only_after_creation(client, django_user_model, make_api_key):
    admin_user = django_user_model.objects.create_superuser("root", password="pw-for-tests-only-123")
    client.force_login(admin_user)
    key, _ = make_api_key("reader", scope="read")
    listing = client.get("/admin/cadml_api/apikey/").content.decode()
    assert "Read only" in listing
    add_form = client.get("/admin/cadml_api/apikey/add/").content.decode()
    assert 'name="scope"' in add_form
    change_form = client.get(f"/admin/cadml_api/apikey/{key.pk}/change/").content.decode()
    assert 'name="scope"' not in change_form and "Read only" in change_form
    client.post(f"/admin/cadml_api/apikey/{key.pk}/change/", {"name": "reader", "scope": "read_write"})
    key.refresh_from_db()
    assert key.scope == "read"
