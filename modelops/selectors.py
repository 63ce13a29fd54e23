"""Reads: registry status, the opcode audit summary and its learnt allow-list, and classification."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from modelops.errors import DimensionMismatch, FeatureVersionMismatch
from modelops.foreground import gate
from modelops.models import ModelRegistryState, ModelReloadAttempt, ModelVersion, OpcodeAuditEntry
from modelops.registry import holder


def _version_dict(version: ModelVersion | None) -> dict | None:
    if version is None:
        return None
    return {"id": version.pk, "label": version.label, "sha256": version.sha256, "status": version.status,
            "feature_version": version.feature_version, "estimator": version.estimator,
            "n_features": version.n_features, "classes": version.classes, "container": version.container,
            "compression": version.compression, "size": version.size, "loaded_at": version.loaded_at,
            "activated_at": version.activated_at, "created_at": version.created_at,
            "created_by": version.created_by, "metrics": version.metrics}


def model_status() -> dict:
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    previous_ids = list(state.previous_ids) if state else []
    by_id = {v.pk: v for v in ModelVersion.objects.filter(pk__in=previous_ids)}
    active = state.active if state else None
    process = holder.active()
    return {
        "active": _version_dict(active),
        "sha256": active.sha256 if active else None,
        "loaded_at": active.loaded_at if active else None,
        "load_sequence": state.load_sequence if state else 0,
        "mode": settings.CADML_MODEL_OPCODE_MODE,
        "previous": [_version_dict(by_id[i]) for i in previous_ids if i in by_id],
        "last_error": state.last_error if state else None,
        "process": {"version": process.label if process else None, "load_sequence": holder.sequence,
                    "error": holder.error},
    }


def model_version_detail(*, version_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=version_id).first()


def model_reload_attempts(*, limit: int = 20) -> list[ModelReloadAttempt]:
    return list(ModelReloadAttempt.objects.select_related("version")[:limit])


def opcode_audit_summary() -> dict:
    state = ModelRegistryState.objects.filter(pk=1).first()
    entries = list(OpcodeAuditEntry.objects.all())

    def rows(kind):
        return [{"name": e.name, "count": e.count, "samples": e.samples, "first_seen": e.first_seen,
                 "last_seen": e.last_seen, "sample_versions": e.sample_versions} for e in entries if e.kind == kind]

    opcodes, globals_ = rows(OpcodeAuditEntry.Kind.OPCODE), rows(OpcodeAuditEntry.Kind.GLOBAL)
    return {
        "mode": settings.CADML_MODEL_OPCODE_MODE,
        "opcodes": opcodes,
        "counts": {"opcodes": sum(r["count"] for r in opcodes), "globals": sum(r["count"] for r in globals_)},
        "globals": globals_,
        "total_samples": state.scans_recorded if state else 0,
    }


def opcode_audit_learnt_allowlist() -> dict:
    """The exact names seen by the scanner (audit mode learns them), for review before they are allowed."""
    entries = OpcodeAuditEntry.objects.order_by("kind", "name")
    return {
        "generated_from": "opcode audit",
        "mode": settings.CADML_MODEL_OPCODE_MODE,
        "opcodes": [e.name for e in entries if e.kind == OpcodeAuditEntry.Kind.OPCODE],
        "globals": [e.name for e in entries if e.kind == OpcodeAuditEntry.Kind.GLOBAL],
    }


def classify_vector(*, values, feature_version: str) -> dict | None:
    """Classify one feature vector with the active model.

    Returns ``{"label", "probabilities": [{"label", "probability"}] (top 3), "model_version"}``, or None when no
    model is active; a model active for another feature version raises ``FeatureVersionMismatch`` (422). A
    vector whose dimension differs from the model's raises ``DimensionMismatch`` (422). Never waits on a reload:
    it uses whatever model this process holds, and a model load in this process pauses while it runs, the
    convergence check included (modelops.foreground).
    """
    with gate().foreground():
        return _classify(values, feature_version)


def _classify(values, feature_version: str) -> dict | None:
    from modelops.services import model_refresh_if_stale

    model_refresh_if_stale()
    active = holder.active()
    if active is None:
        return None
    if active.feature_version and active.feature_version != feature_version:
        raise FeatureVersionMismatch("the active model classifies vectors of another feature version",
                                     context={"feature_version": feature_version,
                                              "model_feature_version": active.feature_version,
                                              "model_version": active.label})
    vector = np.asarray(values, dtype=np.float64).reshape(1, -1)
    if vector.shape[1] != active.n_features:
        raise DimensionMismatch("vector dimension does not match the active model",
                                context={"expected": active.n_features, "actual": int(vector.shape[1]),
                                         "feature_version": feature_version, "model_version": active.label})
    if not np.all(np.isfinite(vector)):
        raise DimensionMismatch("vector contains non-finite values", code="vector_invalid",
                                context={"model_version": active.label})
    probabilities = []
    if active.has_proba:
        proba = active.model.predict_proba(vector)[0]
        order = np.argsort(-proba, kind="stable")[:3]
        probabilities = [{"label": _plain(active.classes[i]), "probability": float(proba[i])} for i in order]
    if active.label_from_proba:
        label = active.classes[int(np.argmax(proba))]  # what predict() computes, without a second pass
    else:
        label = active.model.predict(vector)[0]
    return {"label": _plain(label), "probabilities": probabilities, "model_version": active.label}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
