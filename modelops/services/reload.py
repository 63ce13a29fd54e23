"""Reload and rollback: load a registered version through the whole pipeline and swap it in atomically.

A failure keeps the active model (the database row and every process's holder) and answers the pipeline's
refusal, or ``rollback`` when the file could not be read, loaded or validated (``modelops.errors.reload_refusal``).
"""

from __future__ import annotations

import threading
import time

from django.db import transaction
from django.utils import timezone

from cadml_site.metrics import MODEL_RELOAD_DURATION, MODEL_RELOAD_TOTAL
from modelops import foreground
from modelops.errors import ModelVersionNotFound, NothingToRollBack, reload_refusal
from modelops.models import ModelVersion
from modelops.registry import ActiveModel, holder
from modelops.security.allowlist import default_allowlist
from modelops.security.errors import HashMismatch, ModelSecurityError
from modelops.security.pipeline import CheckedModel, check_model_bytes
from modelops.services.audit import attempt_record, opcode_audit_record, scan_findings, state_snapshot
from modelops.services.configuration import (
    expected_dimension,
    hash_allowlist,
    intake_limits,
    opcode_mode,
    read_model_bytes,
    registry_state,
    scan_limits,
)

MAX_PREVIOUS = 2
_reload_lock = threading.Lock()  # one reload/rollback at a time in this process


def load_version(version: ModelVersion, *, expected_sha256: str | None = None, canary: bool = True) -> CheckedModel:
    """Read the version's file once and run the whole pipeline on those bytes."""
    if expected_sha256 and expected_sha256.lower() != version.sha256:
        raise HashMismatch("expected_sha256 differs from the version's sha256",
                           context={"sha256": version.sha256, "expected_sha256": expected_sha256.lower()})
    # Inference first: reading, hashing, scan, load and validation pause while this process runs a prediction.
    yield_point = foreground.gate().pacer()
    yield_point()
    raw = read_model_bytes(version.file_name)
    return check_model_bytes(raw, mode=opcode_mode(), allowlist=default_allowlist(),
                             intake_limits=intake_limits(), scan_limits=scan_limits(),
                             hash_allowlist=hash_allowlist(), expected_sha256=version.sha256,
                             expected_dimension=expected_dimension(version.feature_version), canary=canary,
                             yield_point=yield_point)


def _label_from_proba(model) -> bool:
    """Every allowed estimator predicts the most probable class, except SVC (Platt scaling can disagree)."""
    from sklearn.svm import SVC

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(final, "predict_proba") and not isinstance(final, SVC)


def active_model_of(version: ModelVersion, checked: CheckedModel, sequence: int) -> ActiveModel:
    """What the holder serves for ``version`` once ``checked`` passed the pipeline."""
    info = checked.info
    return ActiveModel(version_id=version.pk, label=version.label, sha256=version.sha256,
                       feature_version=version.feature_version, n_features=info.n_features,
                       classes=tuple(info.classes), has_proba=info.has_proba, model=checked.model,
                       sequence=sequence, loaded_at=timezone.now(),
                       label_from_proba=info.has_proba and _label_from_proba(checked.model))


def _refuse(*, exc: ModelSecurityError, version: ModelVersion, action: str, actor: str, reason: str,
            started: float) -> Exception:
    """Record a refused reload/rollback (status, last error, audit, metrics) and build the error."""
    mode = opcode_mode()
    report = exc.report
    if report is not None:
        opcode_audit_record(report=report, tag=version.label)
    with transaction.atomic():
        state = registry_state(for_update=True)
        is_active = state.active_id == version.pk
        if not is_active and exc.stage in ("scan", "load", "validate"):
            version.status = (ModelVersion.Status.QUARANTINED if exc.stage == "scan"
                              else ModelVersion.Status.REJECTED)
            version.save(update_fields=["status"])
            if version.pk in state.previous_ids:
                state.previous_ids = [i for i in state.previous_ids if i != version.pk]
        error = reload_refusal(exc, active_version=state.active.label if state.active_id else None, mode=mode)
        state.last_error = {"version": version.label, "code": error.code, "stage": error.stage,
                            "message": exc.message[:500], "at": timezone.now().isoformat()}
        state.save(update_fields=["previous_ids", "last_error", "updated_at"])
    duration = time.perf_counter() - started
    attempt_record(action=action, actor=actor, version=version, sha256=version.sha256, mode=mode, code=error.code,
                   stage=error.stage, message=exc.message, findings=scan_findings(report), duration_s=duration,
                   reason=reason, before=state_snapshot(state), after=state_snapshot(state))
    MODEL_RELOAD_TOTAL.labels(error.code).inc()
    MODEL_RELOAD_DURATION.observe(duration)
    return error


def _swap(*, version: ModelVersion, checked: CheckedModel, rollback: bool) -> tuple[dict, dict, int]:
    """Make ``version`` the active one in the database and in this process (atomic swap)."""
    now = timezone.now()
    with transaction.atomic():
        state = registry_state(for_update=True)
        before = state_snapshot(state)
        old = state.active
        previous = [i for i in state.previous_ids if i != version.pk]
        if rollback:
            if old is not None and old.pk != version.pk:
                old.status = ModelVersion.Status.CANDIDATE
                old.save(update_fields=["status"])
        elif old is not None and old.pk != version.pk:
            old.status = ModelVersion.Status.PREVIOUS
            old.save(update_fields=["status"])
            previous = [old.pk, *[i for i in previous if i != old.pk]]
            retired = previous[MAX_PREVIOUS:]
            previous = previous[:MAX_PREVIOUS]
            ModelVersion.objects.filter(pk__in=retired, status=ModelVersion.Status.PREVIOUS).update(
                status=ModelVersion.Status.CANDIDATE)
        info = checked.info
        version.status = ModelVersion.Status.ACTIVE
        version.loaded_at = now
        if state.active_id != version.pk:
            version.activated_at = now
        version.estimator = info.estimator[:200]
        version.n_features = info.n_features
        version.classes = [c if isinstance(c, (str, int, float, bool)) else str(c) for c in info.classes]
        version.scan_report = checked.report.as_dict()
        version.protocol = checked.report.protocol
        version.save()
        state.active = version
        state.previous_ids = previous
        state.load_sequence += 1
        state.last_error = None
        state.save()
        after = state_snapshot(state)
        sequence = state.load_sequence
    holder.install(active_model_of(version, checked, sequence), sequence=sequence)
    return before, after, sequence


def _resolve_version(*, version: str | int | None, sha256: str | None) -> ModelVersion:
    qs = ModelVersion.objects.all()
    found = None
    if version is not None and str(version) != "":
        text = str(version)
        found = qs.filter(label=text).first() or (qs.filter(pk=int(text)).first() if text.isdigit() else None)
    elif sha256:
        found = qs.filter(sha256=sha256.lower()).first()
    if found is None:
        raise ModelVersionNotFound("no such model version", context={"version": version, "sha256": sha256})
    if sha256 and found.sha256 != sha256.lower():
        raise ModelVersionNotFound("version and sha256 name different models",
                                   context={"version": version, "sha256": sha256})
    return found


def model_reload(*, version: str | int | None = None, sha256: str | None = None,
                 expected_sha256: str | None = None, actor: str, reason: str = "",
                 action: str = "reload") -> ModelVersion:
    """Load a registered version through the whole pipeline and make it active everywhere."""
    try:
        target = _resolve_version(version=version, sha256=sha256)
    except ModelVersionNotFound as exc:
        attempt_record(action=action, actor=actor, version=None, sha256=(sha256 or "")[:64], mode=opcode_mode(),
                       code=exc.code, stage=exc.stage, message=f"{exc.message}: {version!r}", duration_s=0.0,
                       reason=reason)
        raise
    with _reload_lock:
        started = time.perf_counter()
        try:
            checked = load_version(target, expected_sha256=expected_sha256)
        except ModelSecurityError as exc:
            raise _refuse(exc=exc, version=target, action=action, actor=actor, reason=reason,
                          started=started) from None
        opcode_audit_record(report=checked.report, tag=target.label)
        before, after, _ = _swap(version=target, checked=checked, rollback=False)
        duration = time.perf_counter() - started
        attempt_record(action=action, actor=actor, version=target, sha256=target.sha256, mode=opcode_mode(),
                       code="success", findings=scan_findings(checked.report), duration_s=duration, reason=reason,
                       before=before, after={**after, "timings_ms": checked.timings_ms})
        MODEL_RELOAD_TOTAL.labels("success").inc()
        MODEL_RELOAD_DURATION.observe(duration)
        return target


def model_rollback(*, actor: str, reason: str = "") -> ModelVersion:
    """Return to the previous version (two levels kept); the current model stays if that one fails."""
    with _reload_lock:
        started = time.perf_counter()
        state = registry_state()
        if not state.previous_ids:
            error = NothingToRollBack("there is no previous model version to roll back to",
                                      context={"active_version": state.active.label if state.active_id else None})
            attempt_record(action="rollback", actor=actor, version=state.active, sha256="", mode=opcode_mode(),
                           code=error.code, stage=error.stage, message=error.message,
                           duration_s=time.perf_counter() - started, reason=reason, before=state_snapshot(state))
            raise error
        target = ModelVersion.objects.get(pk=state.previous_ids[0])
        try:
            checked = load_version(target)
        except ModelSecurityError as exc:
            raise _refuse(exc=exc, version=target, action="rollback", actor=actor, reason=reason,
                          started=started) from None
        opcode_audit_record(report=checked.report, tag=target.label)
        before, after, _ = _swap(version=target, checked=checked, rollback=True)
        duration = time.perf_counter() - started
        attempt_record(action="rollback", actor=actor, version=target, sha256=target.sha256, mode=opcode_mode(),
                       code="success", duration_s=duration, reason=reason, before=before, after=after)
        MODEL_RELOAD_TOTAL.labels("success").inc()
        MODEL_RELOAD_DURATION.observe(duration)
        return target
