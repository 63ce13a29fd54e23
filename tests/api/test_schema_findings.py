"""Issue 16: the OpenAPI schema describes the service. Each finding of the schemathesis runs, kept as a regular test.

The schema is the one /api/schema/ serves; request bodies are checked against it with jsonschema, so that "the
service refuses it" and "the schema refuses it" are asserted together.
"""

from __future__ import annotations

import jsonschema
import pytest

from tests.openapi import schema_operations

pytestmark = pytest.mark.django_db

API = "/api/v1/"
OPEN_OPERATIONS = {"health", "health_live", "health_ready"}
PROBLEM_FIELDS = {"code", "stage", "message", "context", "timestamp"}


@pytest.fixture
def schema(anon_client) -> dict:
    response = anon_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operation(schema: dict, operation_id: str) -> dict:
    return next(op for _, _, op in schema_operations(schema) if op["operationId"] == operation_id)


def _body_validator(schema: dict, operation_id: str) -> jsonschema.Draft202012Validator:
    body = _operation(schema, operation_id)["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**body, "components": schema["components"]})


# ---- every status, with the problem body ----------------------------------------------------------------------
def test_every_operation_documents_the_statuses_it_answers_by_construction(schema):
    assert len(list(schema_operations(schema))) >= 37
    for path, method, operation in schema_operations(schema):
        responses, name = operation["responses"], f"{method.upper()} {path}"
        statuses = {int(code) for code in responses}
        if operation["operationId"] not in OPEN_OPERATIONS:
            assert {401, 429, 503} <= statuses, name
        if {"ApiKeyAuth": [], "AdminTokenAuth": []} in operation.get("security", []):
            assert 403 in statuses, name
        if "requestBody" in operation:
            assert {400, 413, 415} <= statuses, name
        if "{" in path:
            assert 404 in statuses, name
        for code, response in responses.items():
            if int(code) >= 400:
                content = response.get("content", {})
                assert list(content) == ["application/problem+json"], (name, code)
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert "WWW-Authenticate" in responses.get("401", {}).get("headers", {"WWW-Authenticate": 1}), name
        for code in ("429", "503"):
            if code in responses and operation["operationId"] != "health_ready":
                assert "Retry-After" in responses[code]["headers"], (name, code)


def test_problem_component_names_our_fields(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert PROBLEM_FIELDS <= set(problem["required"])
    assert "errors" not in problem["required"]


def test_analyze_documents_its_refusals(schema):
    """Found: POST analyze/ documented only 201."""
    statuses = set(_operation(schema, "analyze_create")["responses"])
    assert {"201", "400", "401", "413", "415", "422", "429", "503"} <= statuses


def test_health_ready_documents_503(schema):
    assert "503" in _operation(schema, "health_ready")["responses"]


# ---- list envelopes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation_id, item", [("vectors_list", "VectorOutput"),
                                                ("cache_snapshot_list", "CacheSnapshotOutput")])
def test_lists_are_documented_as_the_envelope_they_answer(schema, ops_client, operation_id, item):
    """Found: GET vectors/ and GET cache/snapshots/ were documented as bare arrays."""
    operation = _operation(schema, operation_id)
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    envelope = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"count", "next", "previous", "results"}
    assert envelope["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{item}"}
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["limit"]["minimum"] == 1 and parameters["offset"]["minimum"] == 0
    path = "vectors/" if operation_id == "vectors_list" else "cache/snapshots/"
    body = ops_client.get(API + path).json()
    assert set(body) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "offset=null", "limit=", "limit=2&limit=3"])
def test_malformed_pagination_is_refused_not_ignored(key_client, query):
    """Found: ?offset=null and ?limit=<garbage> were silently replaced by the defaults."""
    response = key_client.get(API + "cache/snapshots/?" + query)
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"


# ---- DELETE vectors/{key}/ -------------------------------------------------------------------------------------
def test_vector_delete_is_documented_as_sensitive_with_a_200_body(schema, key_client, ops_client):
    """Found: documented as key-only with 204; it needs the admin token and answers 200 with a body."""
    operation = _operation(schema, "vectors_delete")
    assert operation["security"] == [{"ApiKeyAuth": [], "AdminTokenAuth": []}]
    assert "204" not in operation["responses"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/VectorDeleteOutput"}
    assert _operation(schema, "vectors_get")["security"] == [{"ApiKeyAuth": []}]

    assert key_client.post(API + "vectors/", {"feature_version": "v1", "key": "gone", "values": [0.5] * 7},
                           format="json").status_code == 201
    assert key_client.delete(API + "vectors/gone/?feature_version=v1").status_code == 403
    response = ops_client.delete(API + "vectors/gone/?feature_version=v1&reason=test")
    assert response.status_code == 200
    assert set(response.json()) == {"key", "feature_version", "generation"}


# ---- parameter names ------------------------------------------------------------------------------------------
def test_migration_preview_documents_the_names_it_reads(schema, key_client):
    """Found: documented from/to, read from_version/to_version."""
    parameters = {p["name"]: p for p in _operation(schema, "vectors_migrate_preview")["parameters"]}
    assert set(parameters) == {"from_version", "to_version", "limit"}
    assert parameters["from_version"]["required"] and parameters["to_version"]["required"]
    assert key_client.get(API + "vectors/migrate/preview/?from_version=v3&to_version=v4").status_code == 200
    assert key_client.get(API + "vectors/migrate/preview/?from=v3&to=v4").status_code == 400


@pytest.mark.parametrize("url", ["vectors/?feature_version=", "vectors/index/?feature_version=",
                                 "features/slots/?version=", "vectors/?feature_version=v4&feature_version=v3"])
def test_empty_or_repeated_enum_parameter_is_refused(key_client, url):
    """Found: GET vectors/?feature_version= (empty) was served as the default version."""
    response = key_client.get(API + url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_failed"


# ---- bodies: what the service refuses, the schema refuses -----------------------------------------------------
REFUSED_BODIES = [
    ("vectors_similarity", "vectors/similarity/", {}),
    ("vectors_similarity", "vectors/similarity/", {"vector": [1.0] * 24, "key": "a"}),
    ("vectors_similarity", "vectors/similarity/", {"vector": None}),
    ("vectors_similarity", "vectors/similarity/", {"key": "a", "k": "5"}),
    ("vectors_similarity", "vectors/similarity/", {"key": "a", "k": True}),
    ("vectors_similarity", "vectors/similarity/", {"vector": [True] * 24}),
    ("vectors_similarity", "vectors/similarity/", {"key": "a", "filters": {"not a name": 1}}),
    ("vectors_similarity", "vectors/similarity/", {"key": "a", "filters": {"a__b": 1}}),
    ("vectors_similarity", "vectors/similarity/", {"key": "a", "filters": {"a": [1]}}),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"queries": None}),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"queries": []}),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"queries": [1]}),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"queries": [{"vector": [1.0], "key": "a"}]}),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"queries": [{"key": None}]}),
    ("vectors_register", "vectors/", {}),
    ("vectors_register", "vectors/", {"key": "a"}),
    ("vectors_register", "vectors/", {"key": "a", "values": [1.0] * 24, "vectors": [{"key": "b", "values": [1]}]}),
    ("vectors_register", "vectors/", {"vectors": [{"key": "b"}]}),
    ("model_reload", "model/reload/", {}),
    ("model_reload", "model/reload/", {"reason": "no version"}),
    ("model_predict", "model/predict/", {"values": [True], "feature_version": "v4"}),
    ("cache_apply", "cache/apply/", {"reason": "nothing to apply"}),
    ("cache_apply", "cache/apply/", {"capacity": 0, "reason": "r"}),
    ("cache_apply", "cache/apply/", {"capacity": "10", "reason": "r"}),
    ("cache_prewarm", "cache/prewarm/", {"reason": 0}),
    ("vectors_index_rebuild", "vectors/index/rebuild/", {"reason": 0}),
    ("auth_api_key_issue", "auth/api-keys/", {"name": "   "}),
    ("auth_api_key_issue", "auth/api-keys/", {"name": "nul\x00byte"}),
    ("vectors_migrate_start", "vectors/migrate/", {"from": "v3", "to": "v4"}),
]


@pytest.mark.parametrize("operation_id, path, body", REFUSED_BODIES)
def test_a_body_the_service_refuses_is_one_the_schema_refuses(schema, ops_client, operation_id, path, body):
    """Found: 11 operations refused bodies the schema accepted (`POST vectors/similarity/ {}`, ...)."""
    response = ops_client.post(API + path, body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert PROBLEM_FIELDS <= set(response.json())
    assert not _body_validator(schema, operation_id).is_valid(body), "the schema accepts what the service refuses"


ACCEPTED_BODIES = [  # valid by the schema: never a 400 (404/409/422 say something the schema cannot)
    ("vectors_similarity", "vectors/similarity/", {"key": "no-such-part"}, 404),
    ("vectors_similarity", "vectors/similarity/", {"feature_version": "v4", "vector": [0.5] * 24, "filters": {"material": "steel"}}, 200),
    ("vectors_similarity_batch", "vectors/similarity/batch/", {"feature_version": "v4", "queries": [{"vector": [0.5] * 24}]}, 200),
    ("vectors_register", "vectors/", {"feature_version": "v4", "key": "p1", "values": [0.5] * 24, "meta": None}, 201),
    ("vectors_register", "vectors/", {"key": "p2", "values": [0.5] * 5}, 422),
    ("model_reload", "model/reload/", {"version": "no-such-version"}, 404),
    ("model_rollback", "model/rollback/", {}, 409),
    ("cache_apply", "cache/apply/", {"policy": "lru", "reason": "try lru"}, 200),
    ("cache_confirm", "cache/confirm/", {}, 409),
]


@pytest.mark.parametrize("operation_id, path, body, status", ACCEPTED_BODIES)
def test_a_body_the_schema_accepts_is_not_refused_as_malformed(schema, ops_client, operation_id, path, body,
                                                                status):
    assert _body_validator(schema, operation_id).is_valid(body)
    response = ops_client.post(API + path, body, format="json")
    assert response.status_code == status, response.content


def test_json_operations_read_json_only(schema, ops_client):
    """Found: JSON operations also read form bodies, where lists and null cannot be said (500 on `values=0&...`)."""
    assert set(_operation(schema, "vectors_similarity")["requestBody"]["content"]) == {"application/json"}
    assert set(_operation(schema, "analyze_create")["requestBody"]["content"]) == {"multipart/form-data"}
    response = ops_client.post(API + "model/predict/", "values=0&values=true&feature_version=v4",
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_similarity_key_and_vector_are_alternatives_in_the_schema(schema):
    body = _operation(schema, "vectors_similarity")["requestBody"]
    assert body["required"] is True
    component = schema["components"]["schemas"]["SimilaritySearchInputRequest"]
    assert component["oneOf"] == [{"required": ["vector"]}, {"required": ["key"]}]
    assert component["properties"]["vector"]["minItems"] == 1


# ---- statuses found undocumented ------------------------------------------------------------------------------
def test_predict_for_another_feature_version_is_422(settings, tmp_path, key_client, schema):
    """Found: a model active for v4 answered 503 no_active_model to a v1 vector (a 5xx for a client mismatch)."""
    from modelops.security.reference_models import serialise
    from modelops.services import model_reload, model_version_upload
    from tests.modelops.conftest import fit_for_version

    settings.CADML_MODEL_DIR = tmp_path
    version = model_version_upload(data=serialise(fit_for_version("v4"), container="joblib", protocol=4),
                                   label="rf", feature_version="v4", actor="test")
    model_reload(version=version.label, actor="test")
    response = key_client.post(API + "model/predict/", {"values": [0.0] * 7, "feature_version": "v1"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "feature_version_mismatch"
    assert response.json()["context"]["model_feature_version"] == "v4"
    assert "422" in _operation(schema, "model_predict")["responses"]


def test_registering_a_missing_model_file_is_404(settings, tmp_path, ops_client, schema):
    settings.CADML_MODEL_DIR = tmp_path
    response = ops_client.post(API + "model/versions/register/", {"file_name": "absent.joblib", "label": "x"},
                               format="json")
    assert response.status_code == 404 and response.json()["code"] == "model_file_missing"
    assert "404" in _operation(schema, "model_version_register")["responses"]


def test_applying_the_current_settings_is_a_documented_409(ops_client, schema):
    current = ops_client.get(API + "cache/").json()["settings"]["capacity"]
    response = ops_client.post(API + "cache/apply/", {"capacity": current, "reason": "same"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "settings_unchanged"
    assert "409" in _operation(schema, "cache_apply")["responses"]


def test_issuing_a_taken_key_name_is_a_documented_409(ops_client, schema):
    assert ops_client.post(API + "auth/api-keys/", {"name": "twice", "scope": "read_write"}, format="json").status_code == 201
    response = ops_client.post(API + "auth/api-keys/", {"name": "twice", "scope": "read_write"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "name_taken"
    assert "409" in _operation(schema, "auth_api_key_issue")["responses"]


def test_stateful_links_lead_from_creations_to_their_objects(schema):
    links = _operation(schema, "analyze_create")["responses"]["201"]["links"]
    assert links["GetAnalysis"] == {"operationId": "analyze_retrieve",
                                    "parameters": {"analysis_id": "$response.body#/id"}}
    ids = {op["operationId"] for _, _, op in schema_operations(schema)}
    for _, _, operation in schema_operations(schema):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids


# ---- text the database cannot store (Postgres refuses NUL and unpaired surrogates) ---------------------------
@pytest.mark.parametrize("path, body", [
    ("vectors/", '{"key": "p1", "values": [%s], "meta": {"a": "x\\u0000y"}}' % ", ".join(["0.5"] * 24)),
    ("vectors/", '{"key": "p1", "values": [%s], "meta": {"a\\ud800": 1}}' % ", ".join(["0.5"] * 24)),
    ("auth/api-keys/", '{"name": "half \\udc00 a pair"}'),
    ("cache/confirm/", '{"reason": "\\ud83d"}'),
    ("vectors/similarity/", '{"key": "a", "filters": {"material": "st\\u0000eel"}}'),
])
def test_text_a_database_cannot_store_is_refused_not_a_500(ops_client, path, body):
    response = ops_client.post(API + path, body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["code"] in ("invalid_text", "validation_failed", "invalid_meta", "invalid_filter", "vector_not_found")


@pytest.mark.parametrize("url", ["vectors/a%00b/", "vectors/?feature_version=v4%00", "analyze/1/%00",
                                 "vectors/migrate/preview/?from_version=v1&to_version=v2&limit=1%00",
                                 "vectors/?meta.material=st%00eel"])
def test_nul_in_the_url_is_a_4xx(key_client, url):
    response = key_client.get(API + url)
    assert 400 <= response.status_code < 500, response.content


def test_upload_name_with_nul_is_not_a_500(key_client, cad_samples_dir):
    from django.core.files.uploadedfile import SimpleUploadedFile

    sample = next(p for p in sorted((cad_samples_dir / "stl").iterdir()) if p.suffix.lower() == ".stl")
    upload = SimpleUploadedFile("part\x00.stl", sample.read_bytes())
    response = key_client.post(API + "analyze/", {"file": upload, "register_vector": False, "classify": False},
                               format="multipart")
    assert response.status_code in (201, 400), response.content
