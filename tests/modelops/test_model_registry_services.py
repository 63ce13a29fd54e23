"""Registry services: registration, reload, both rollback levels, refusals, audit rows, metrics."""

from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np
import pytest

from modelops.errors import FeatureVersionMismatch, ModelRollback, NothingToRollBack
from modelops.models import ModelRegistryState, ModelReloadAttempt, ModelVersion, OpcodeAuditEntry
from modelops.registry import holder
from modelops.security.errors import (
    HashMismatch,
    IntakeRefused,
    MagicInvalid,
    ModelFileMissing,
    OpcodeBlocked,
    SizeExceeded,
)
from modelops.selectors import model_status, opcode_audit_summary
from modelops.services import (
    model_reload,
    model_rollback,
    model_version_register_from_dir,
    model_version_upload,
)
from tests.metrics import metric_value

pytestmark = pytest.mark.django_db


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_upload_stores_a_scanned_candidate_and_records_the_audit(register_model, model_dir):
    version = register_model("rf-a")
    assert version.status == ModelVersion.Status.CANDIDATE and version.container == "joblib"
    stored = model_dir / version.file_name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == version.sha256
    assert version.scan_report["clean"] and version.scan_report["mode"] == "blacklist"
    attempt = ModelReloadAttempt.objects.get()
    assert (attempt.action, attempt.outcome, attempt.code, attempt.actor) == ("upload", "success", "success",
                                                                             "ops-alice")
    summary = opcode_audit_summary()
    assert summary["total_samples"] == 1
    assert any(g["name"] == "sklearn.ensemble._forest:RandomForestClassifier" for g in summary["globals"])
    assert all(row["sample_versions"] == ["rf-a"] for row in summary["opcodes"])


def test_hostile_upload_is_quarantined_without_running(model_dir, tmp_path, db):
    marker = tmp_path / "pwned"
    before = metric_value("model_opcode_audit_total")
    with pytest.raises(OpcodeBlocked) as excinfo:
        model_version_upload(data=pickle.dumps(_Evil(marker), protocol=4), label="evil", actor="mallory")
    assert excinfo.value.status == 422 and excinfo.value.code == "opcode_blocked"
    assert excinfo.value.context["global"] == "posix:system" and excinfo.value.context["mode"] == "blacklist"
    assert not marker.exists()
    version = ModelVersion.objects.get(label="evil")
    assert version.status == ModelVersion.Status.QUARANTINED and version.file_name == ""
    assert not list(model_dir.iterdir())  # never stored where it could be loaded by name
    attempt = ModelReloadAttempt.objects.get()
    assert attempt.outcome == "refused" and attempt.findings[0]["global"] == "posix:system"
    assert OpcodeAuditEntry.objects.filter(kind="global", name="posix:system").exists()
    assert metric_value("model_opcode_audit_total") > before


def test_size_and_magic_refusals(model_dir, settings, make_model_bytes, db):
    settings.CADML_MODEL_MAX_BYTES = 2048
    with pytest.raises(SizeExceeded) as excinfo:
        model_version_upload(data=make_model_bytes(), label="big", actor="ops")
    assert excinfo.value.status == 413
    with pytest.raises(MagicInvalid) as excinfo:
        model_version_upload(data=b"PK\x03\x04 a zip file", label="zip", actor="ops")
    assert excinfo.value.status == 415 and excinfo.value.stage == "intake"


def test_reload_activates_swaps_and_counts(register_model):
    version = register_model("rf-a")
    successes = metric_value("model_reload_total", code="success")
    durations = metric_value("model_reload_duration_seconds_count")
    model_reload(version="rf-a", actor="ops-alice", reason="first model")
    version.refresh_from_db()
    state = ModelRegistryState.objects.get()
    assert version.status == ModelVersion.Status.ACTIVE and state.active_id == version.pk
    assert state.load_sequence == 1 and holder.sequence == 1
    assert holder.active().label == "rf-a" and holder.active().n_features == 24
    assert metric_value("model_reload_total", code="success") == successes + 1
    assert metric_value("model_reload_duration_seconds_count") == durations + 1
    attempt = ModelReloadAttempt.objects.filter(action="reload").get()
    assert attempt.before["active"] is None and attempt.after["active"] == "rf-a" and attempt.reason == "first model"


def test_hash_allowlist_and_expected_sha256(register_model, settings):
    version = register_model("rf-a")
    settings.CADML_MODEL_HASH_ALLOWLIST = ["0" * 64]
    refused = metric_value("model_reload_total", code="hash_mismatch")
    with pytest.raises(HashMismatch) as excinfo:
        model_reload(version="rf-a", actor="ops")
    assert excinfo.value.status == 409 and excinfo.value.stage == "hash"
    assert metric_value("model_reload_total", code="hash_mismatch") == refused + 1
    settings.CADML_MODEL_HASH_ALLOWLIST = [version.sha256]
    with pytest.raises(HashMismatch):
        model_reload(version="rf-a", expected_sha256="f" * 64, actor="ops")
    model_reload(version="rf-a", expected_sha256=version.sha256.upper(), actor="ops")
    assert holder.active().sha256 == version.sha256


def test_file_swapped_after_registration_is_refused_by_hash(register_model, model_dir, tmp_path):
    version = register_model("rf-a")
    marker = tmp_path / "pwned"
    (model_dir / version.file_name).write_bytes(pickle.dumps(_Evil(marker), protocol=4))
    with pytest.raises(HashMismatch) as excinfo:
        model_reload(version="rf-a", actor="ops")
    assert excinfo.value.context["sha256"] != version.sha256
    assert not marker.exists() and holder.active() is None


def test_failed_reload_keeps_the_active_model_and_says_rollback(register_model, make_model_bytes, model_dir):
    register_model("rf-a")
    model_reload(version="rf-a", actor="ops")
    # A valid model for another feature version: its dimension does not match v4 -> validation fails.
    bad = model_version_upload(data=make_model_bytes("v2", seed=5), label="wrong-dim", feature_version="v4",
                               actor="ops")
    with pytest.raises(ModelRollback) as excinfo:
        model_reload(version="wrong-dim", actor="ops")
    error = excinfo.value
    assert (error.status, error.code, error.stage) == (422, "rollback", "validate")
    assert error.context["active_version"] == "rf-a"
    bad.refresh_from_db()
    assert bad.status == ModelVersion.Status.REJECTED
    assert holder.active().label == "rf-a"
    assert model_status()["last_error"]["version"] == "wrong-dim"
    assert ModelReloadAttempt.objects.filter(code="rollback", outcome="refused").count() == 1


def test_two_rollback_levels(register_model):
    for seed, label in enumerate(("a", "b", "c")):
        register_model(label, seed=seed)
        model_reload(version=label, actor="ops")
    state = ModelRegistryState.objects.get()
    labels = dict(ModelVersion.objects.values_list("pk", "label"))
    assert [labels[i] for i in state.previous_ids] == ["b", "a"]
    assert model_rollback(actor="ops", reason="c is bad").label == "b"
    assert holder.active().label == "b"
    assert model_rollback(actor="ops", reason="b is bad too").label == "a"
    assert holder.active().label == "a"
    statuses = dict(ModelVersion.objects.values_list("label", "status"))
    assert statuses == {"a": "active", "b": "candidate", "c": "candidate"}
    with pytest.raises(NothingToRollBack) as excinfo:
        model_rollback(actor="ops")
    assert excinfo.value.status == 409
    assert ModelRegistryState.objects.get().load_sequence == 5
    assert ModelReloadAttempt.objects.filter(action="rollback").count() == 3


def test_only_two_previous_levels_are_kept(register_model):
    for seed, label in enumerate(("a", "b", "c", "d")):
        register_model(label, seed=seed)
        model_reload(version=label, actor="ops")
    statuses = dict(ModelVersion.objects.values_list("label", "status"))
    assert statuses == {"a": "candidate", "b": "previous", "c": "previous", "d": "active"}


def test_rollback_to_an_unloadable_previous_keeps_the_current(register_model, model_dir):
    a = register_model("a", seed=1)
    model_reload(version="a", actor="ops")
    register_model("b", seed=2)
    model_reload(version="b", actor="ops")
    (model_dir / a.file_name).unlink()
    with pytest.raises(ModelRollback) as excinfo:
        model_rollback(actor="ops")
    assert excinfo.value.context["active_version"] == "b"
    assert holder.active().label == "b"


def test_register_from_dir_by_name_only(model_dir, make_model_bytes, db, tmp_path):
    (model_dir / "good.joblib").write_bytes(make_model_bytes(seed=3))
    version = model_version_register_from_dir(file_name="good.joblib", label="good", feature_version="v4",
                                              actor="ops")
    assert version.file_name == "good.joblib"
    outside = tmp_path / "outside.joblib"
    outside.write_bytes(make_model_bytes(seed=4))
    (model_dir / "link.joblib").symlink_to(outside)
    for name in ("../outside.joblib", "link.joblib", str(outside)):
        with pytest.raises(IntakeRefused) as refused:
            model_version_register_from_dir(file_name=name, label=f"x{abs(hash(name)) % 1000}", actor="ops")
        assert (refused.value.status, refused.value.code) == (400, "model_file_refused")
    with pytest.raises(ModelFileMissing) as missing:  # 404, not 400: the name is fine, the file is absent
        model_version_register_from_dir(file_name="missing.joblib", label="x-missing", actor="ops")
    assert missing.value.status == 404 and missing.value.code == "model_file_missing"


def test_audit_mode_records_hostile_files_and_the_loader_still_refuses(model_dir, settings, tmp_path, db):
    settings.CADML_MODEL_OPCODE_MODE = "audit"
    marker = tmp_path / "pwned"
    raw = pickle.dumps(_Evil(marker), protocol=4)
    version = model_version_upload(data=raw, label="evil-audited", actor="ops")  # audit mode blocks nothing
    assert version.scan_report["findings_total"] >= 1
    with pytest.raises(ModelRollback) as excinfo:
        model_reload(version="evil-audited", actor="ops")
    assert excinfo.value.stage == "load" and excinfo.value.context["global"] == "posix:system"
    assert not marker.exists()
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.REJECTED


def test_whitelist_violation_metric(model_dir, settings, db):
    settings.CADML_MODEL_OPCODE_MODE = "whitelist"
    before = metric_value("model_opcode_whitelist_violations_total")
    with pytest.raises(OpcodeBlocked):
        model_version_upload(data=b"\x80\x02I42\n.", label="text-int", actor="ops")
    assert metric_value("model_opcode_whitelist_violations_total") == before + 1


def test_predictions_follow_the_active_model(register_model):
    register_model("a", seed=1)
    model_reload(version="a", actor="ops")
    from modelops.selectors import classify_vector

    result = classify_vector(values=np.zeros(24).tolist(), feature_version="v4")
    assert result["model_version"] == "a" and len(result["probabilities"]) == 3
    assert abs(sum(p["probability"] for p in result["probabilities"]) - 1.0) < 1e-6 or \
        len(holder.active().classes) > 3
    with pytest.raises(FeatureVersionMismatch):  # a v4 model, a v2 vector: the client's mismatch (422), not a 503
        classify_vector(values=np.zeros(12).tolist(), feature_version="v2")


@pytest.mark.parametrize("kind", ["random_forest", "gradient_boosting", "hist_gradient_boosting", "k_neighbors",
                                  "scaler_logistic_regression", "decision_tree", "extra_trees"])
def test_classify_label_equals_the_models_own_predict(kind, register_model):
    register_model(kind, seed=3, kind=kind)
    model_reload(version=kind, actor="ops")
    from modelops.selectors import classify_vector

    active = holder.active()
    assert active.label_from_proba
    vectors = np.random.default_rng(11).normal(size=(40, 24))
    expected = active.model.predict(vectors)
    got = [classify_vector(values=v.tolist(), feature_version="v4")["label"] for v in vectors]
    assert got == list(expected)


def test_duplicates_and_unknown_versions_are_refused_and_audited(register_model, make_model_bytes):
    from modelops.errors import ModelVersionExists, ModelVersionNotFound

    register_model("a", seed=1)
    with pytest.raises(ModelVersionExists):
        model_version_upload(data=make_model_bytes(seed=1), label="a-again", feature_version="v4", actor="ops")
    with pytest.raises(ModelVersionExists):
        model_version_upload(data=make_model_bytes(seed=2), label="a", feature_version="v4", actor="ops")
    with pytest.raises(ModelVersionNotFound):
        model_reload(version="nope", actor="ops")
    codes = list(ModelReloadAttempt.objects.order_by("id").values_list("code", flat=True))
    assert codes == ["success", "model_version_exists", "model_version_exists", "model_version_not_found"]


def test_upload_reuses_an_identical_leftover_file_but_never_overwrites(model_dir, make_model_bytes, db):
    from modelops.errors import ModelVersionExists

    raw = make_model_bytes(seed=8)
    sha = hashlib.sha256(raw).hexdigest()
    (model_dir / f"same-{sha[:12]}.joblib").write_bytes(raw)  # e.g. left over from an emptied database
    assert model_version_upload(data=raw, label="same", feature_version="v4", actor="ops").status == "candidate"
    other = make_model_bytes(seed=9)
    (model_dir / f"clash-{hashlib.sha256(other).hexdigest()[:12]}.joblib").write_bytes(b"something else")
    with pytest.raises(ModelVersionExists):
        model_version_upload(data=other, label="clash", feature_version="v4", actor="ops")
