"""The model endpoints: authentication levels, problem+json errors, upload/reload/rollback/predict/audit."""

from __future__ import annotations

import io
import os
import pickle

import pytest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/model/"


def _upload(client, raw: bytes, label: str, feature_version: str = "v4"):
    return client.post(f"{BASE}versions/", {"file": io.BytesIO(raw), "label": label,
                                            "feature_version": feature_version}, format="multipart")


def test_status_needs_a_key_and_reports_no_model(anon_client, key_client):
    assert anon_client.get(BASE).status_code == 401
    response = key_client.get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is None and body["load_sequence"] == 0 and body["mode"] == "blacklist"
    assert body["previous"] == [] and body["last_error"] is None


def test_sensitive_endpoints_need_ops_staff(key_client, model_dir, make_model_bytes):
    assert _upload(key_client, make_model_bytes(), "x").status_code == 403
    assert key_client.post(f"{BASE}reload/", {"version": "x"}, format="json").status_code == 403
    assert key_client.post(f"{BASE}rollback/", {}, format="json").status_code == 403
    assert key_client.get(f"{BASE}opcode-audit/").status_code == 403
    assert key_client.post(f"{BASE}versions/register/", {"file_name": "a", "label": "a"},
                           format="json").status_code == 403


def test_upload_reload_predict_rollback_flow(ops_client, key_client, model_dir, make_model_bytes):
    response = _upload(ops_client, make_model_bytes(seed=1), "rf-a")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "candidate" and response.json()["container"] == "joblib"
    assert _upload(ops_client, make_model_bytes(seed=2), "rf-b").status_code == 201
    response = ops_client.post(f"{BASE}reload/", {"version": "rf-a", "reason": "go"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["version"]["status"] == "active" and response.json()["load_sequence"] == 1
    response = ops_client.post(f"{BASE}reload/", {"version": "rf-b"}, format="json")
    assert response.status_code == 200
    status = key_client.get(BASE).json()
    assert status["active"]["label"] == "rf-b" and [p["label"] for p in status["previous"]] == ["rf-a"]
    assert status["process"]["version"] == "rf-b"
    predicted = key_client.post(f"{BASE}predict/", {"values": [0.1] * 24, "feature_version": "v4"}, format="json")
    assert predicted.status_code == 200
    body = predicted.json()
    assert body["model_version"] == "rf-b" and 1 <= len(body["probabilities"]) <= 3
    wrong = key_client.post(f"{BASE}predict/", {"values": [0.1] * 23, "feature_version": "v4"}, format="json")
    assert wrong.status_code == 422 and wrong.json()["code"] == "dimension_mismatch"
    assert wrong["Content-Type"].startswith("application/problem+json")
    response = ops_client.post(f"{BASE}rollback/", {"reason": "b misclassifies"}, format="json")
    assert response.status_code == 200 and response.json()["version"]["label"] == "rf-a"
    response = ops_client.post(f"{BASE}rollback/", {"reason": "again"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "nothing_to_rollback"


def test_predict_without_model_is_503(key_client):
    response = key_client.post(f"{BASE}predict/", {"values": [0.0] * 24, "feature_version": "v4"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "no_active_model"


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_upload_is_a_structured_422(ops_client, model_dir, tmp_path):
    marker = tmp_path / "pwned"
    response = _upload(ops_client, pickle.dumps(_Evil(marker), protocol=2), "evil")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "opcode_blocked" and body["stage"] == "scan"
    assert body["context"]["global"] == "posix:system" and body["context"]["rule"] == "global_denied"
    assert body["context"]["mode"] == "blacklist" and len(body["context"]["sha256"]) == 64
    assert "offset" in body["context"] and "active_version" in body["context"]
    assert not marker.exists()


@pytest.mark.parametrize("raw,status,code", [
    (b"PK\x03\x04zip", 415, "magic_invalid"),
    (b"\x80\x04I12x\n.", 422, "opcode_scan_error"),
])
def test_upload_refusals_map_to_plan_codes(ops_client, model_dir, raw, status, code):
    response = _upload(ops_client, raw, "bad")
    assert response.status_code == status and response.json()["code"] == code


def test_upload_size_limit_is_413(ops_client, model_dir, settings, make_model_bytes):
    settings.CADML_MODEL_MAX_BYTES = 2048
    response = _upload(ops_client, make_model_bytes(), "big")
    assert response.status_code == 413 and response.json()["code"] == "size_exceeded"


def test_reload_errors_carry_stage_and_context(ops_client, model_dir, make_model_bytes, settings):
    assert _upload(ops_client, make_model_bytes(seed=1), "rf-a").status_code == 201
    response = ops_client.post(f"{BASE}reload/", {"version": "rf-a", "expected_sha256": "a" * 64}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "hash_mismatch"
    assert response.json()["stage"] == "hash" and response.json()["context"]["active_version"] is None
    assert ops_client.post(f"{BASE}reload/", {"version": "nope"}, format="json").status_code == 404
    assert ops_client.post(f"{BASE}reload/", {}, format="json").status_code == 400


def test_register_by_name_refuses_paths(ops_client, model_dir, make_model_bytes):
    (model_dir / "m.joblib").write_bytes(make_model_bytes(seed=9))
    response = ops_client.post(f"{BASE}versions/register/", {"file_name": "m.joblib", "label": "m",
                                                              "feature_version": "v4"}, format="json")
    assert response.status_code == 201 and response.json()["label"] == "m"
    for name in ("../m.joblib", "/etc/passwd", "a/b"):
        response = ops_client.post(f"{BASE}versions/register/", {"file_name": name, "label": "n"}, format="json")
        assert response.status_code == 400


def test_opcode_audit_endpoint(ops_client, model_dir, make_model_bytes):
    _upload(ops_client, make_model_bytes(seed=1), "rf-a")
    body = ops_client.get(f"{BASE}opcode-audit/").json()
    assert set(body) == {"mode", "opcodes", "counts", "globals", "total_samples"}
    assert body["total_samples"] == 1 and body["counts"]["opcodes"] > 0
    assert any(row["name"] == "joblib.numpy_pickle:NumpyArrayWrapper" for row in body["globals"])


def test_health_endpoint_has_the_model_section(anon_client, ops_client, model_dir, make_model_bytes):
    assert _upload(ops_client, make_model_bytes(seed=1), "rf-a").status_code == 201
    assert ops_client.post(f"{BASE}reload/", {"version": "rf-a"}, format="json").status_code == 200
    body = anon_client.get("/api/v1/health/").json()
    section = body["sections"]["model"]
    assert section["status"] == "ok" and section["active_version"] == "rf-a"
    assert section["process_version"] == "rf-a" and section["load_sequence"] == 1 and section["mode"] == "blacklist"
