"""Model registry services: register (upload, by name, training), reload, rollback, process convergence.

Every path runs the same refusal pipeline (``modelops.security.pipeline``) on the bytes it read once,
records the opcode audit of every scan, and writes one append-only ``ModelReloadAttempt`` per attempt.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cadml_site.metrics import (
    MODEL_OPCODE_AUDIT_TOTAL,
    MODEL_OPCODE_WHITELIST_VIOLATIONS_TOTAL,
    MODEL_RELOAD_DURATION,
    MODEL_RELOAD_TOTAL,
)
from cadml_site.request_context import current_request_id
from modelops import foreground
from modelops.errors import (
    ModelVersionExists,
    ModelVersionNotFound,
    NotEnoughTrainingData,
    NothingToRollBack,
    refusal_context,
    reload_refusal,
)
from modelops.models import ModelRegistryState, ModelReloadAttempt, ModelVersion, OpcodeAuditEntry
from modelops.registry import ActiveModel, holder
from modelops.security.allowlist import default_allowlist
from modelops.security.errors import HashMismatch, ModelSecurityError
from modelops.security.intake import IntakeLimits, check_size, intake_bytes, read_model_file, sha256_hex
from modelops.security.pipeline import CheckedModel, check_hash, check_model_bytes
from modelops.security.scanner import ScanLimits, ScanReport, scan

logger = logging.getLogger("cadml.modelops")

LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
MAX_PREVIOUS = 2
MAX_SAMPLE_VERSIONS = 5
_reload_lock = threading.Lock()  # one reload/rollback at a time in this process


# ----- configuration -----------------------------------------------------------------------------------
def intake_limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=settings.CADML_MODEL_MAX_BYTES,
                        max_decompressed_bytes=settings.CADML_MODEL_MAX_DECOMPRESSED_BYTES,
                        max_ratio=settings.CADML_MODEL_MAX_DECOMPRESSION_RATIO)


def scan_limits() -> ScanLimits:
    return ScanLimits(max_opcodes=settings.CADML_MODEL_SCAN_MAX_OPCODES,
                      max_seconds=settings.CADML_MODEL_SCAN_MAX_SECONDS)


def opcode_mode() -> str:
    return settings.CADML_MODEL_OPCODE_MODE


def hash_allowlist() -> frozenset[str] | None:
    return frozenset(settings.CADML_MODEL_HASH_ALLOWLIST) or None


def model_dir() -> Path:
    path = Path(settings.CADML_MODEL_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o750)
    return path


def registry_state(*, for_update: bool = False) -> ModelRegistryState:
    ModelRegistryState.objects.get_or_create(pk=1)
    qs = ModelRegistryState.objects.select_related("active")
    return (qs.select_for_update(of=("self",)) if for_update else qs).get(pk=1)


def _expected_dimension(feature_version: str) -> int | None:
    if not feature_version:
        return None
    from features.extractors import dimension

    return dimension(feature_version)


# ----- audit -------------------------------------------------------------------------------------------
def opcode_audit_record(*, report: ScanReport, tag: str) -> None:
    """Aggregate what one scan saw (any mode, refused or not) and count it in the metrics."""
    MODEL_OPCODE_AUDIT_TOTAL.inc(report.n_opcodes)
    if report.mode == "whitelist" and report.findings:
        MODEL_OPCODE_WHITELIST_VIOLATIONS_TOTAL.inc(len(report.findings))
    now = timezone.now()
    seen = [(OpcodeAuditEntry.Kind.OPCODE, name[:300], count) for name, count in report.opcodes.items()]
    seen += [(OpcodeAuditEntry.Kind.GLOBAL, name[:300], count) for name, count in report.globals.items()]
    if not seen:
        return
    with transaction.atomic():
        OpcodeAuditEntry.objects.bulk_create(
            [OpcodeAuditEntry(kind=kind, name=name, count=0, samples=0, first_seen=now, last_seen=now)
             for kind, name, _ in seen], ignore_conflicts=True)
        rows = {(row.kind, row.name): row for row in OpcodeAuditEntry.objects.select_for_update().filter(
            kind__in=[OpcodeAuditEntry.Kind.OPCODE, OpcodeAuditEntry.Kind.GLOBAL],
            name__in=[name for _, name, _ in seen])}
        changed = []
        for kind, name, count in seen:
            row = rows.get((kind, name))
            if row is None:
                continue
            row.count += count
            row.samples += 1
            row.last_seen = now
            if tag not in row.sample_versions and len(row.sample_versions) < MAX_SAMPLE_VERSIONS:
                row.sample_versions = [*row.sample_versions, tag]
            changed.append(row)
        OpcodeAuditEntry.objects.bulk_update(changed, ["count", "samples", "last_seen", "sample_versions"])
        ModelRegistryState.objects.get_or_create(pk=1)
        ModelRegistryState.objects.filter(pk=1).update(scans_recorded=F("scans_recorded") + 1)


def _attempt(*, action: str, actor: str, version: ModelVersion | None, sha256: str, mode: str, code: str,
             stage: str = "", message: str = "", findings: list | None = None, duration_s: float,
             reason: str = "", before: dict | None = None, after: dict | None = None) -> ModelReloadAttempt:
    outcome = ModelReloadAttempt.Outcome.SUCCESS if code == "success" else ModelReloadAttempt.Outcome.REFUSED
    return ModelReloadAttempt.objects.create(
        action=action, actor=actor[:150], request_id=current_request_id() or "", reason=reason, before=before,
        after=after, version=version, sha256=sha256, mode=mode, outcome=outcome, code=code, stage=stage,
        message=message[:2000], findings=findings or [], duration_ms=round(duration_s * 1000, 3))


def _findings(report: ScanReport | None) -> list:
    return [f.as_dict() for f in report.findings[:50]] if report is not None else []


def _state_snapshot(state: ModelRegistryState) -> dict:
    return {"active": state.active.label if state.active_id else None, "load_sequence": state.load_sequence,
            "previous": list(state.previous_ids)}


# ----- registration ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registration:
    version: ModelVersion
    report: ScanReport


def _check_label(label: str) -> None:
    from cadml_site.errors import BadRequest

    if not LABEL_RE.match(label or ""):
        raise BadRequest("label must be 1-100 characters of letters, digits, '.', '_' or '-'",
                         code="invalid_label", stage="request", context={"label": (label or "")[:100]})


def _write_model_file(raw: bytes, name: str) -> None:
    """Write a new file in the model directory atomically (temporary file, fsync, link without overwrite)."""
    directory = model_dir()
    tmp = directory / f".upload-{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o640)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, directory / name)  # never overwrite an existing file
        except FileExistsError:
            existing = read_model_file(str(directory), name, max_bytes=settings.CADML_MODEL_MAX_BYTES)
            if sha256_hex(existing) != sha256_hex(raw):
                raise ModelVersionExists("a different file with this name exists in CADML_MODEL_DIR",
                                         context={"file_name": name}) from None
    finally:
        tmp.unlink(missing_ok=True)


def _register(*, raw: bytes, label: str, feature_version: str, actor: str, action: str,
              stored_name: str | None, metrics: dict | None = None, reason: str = "") -> Registration:
    """Intake + hash + scan a file and record it as a candidate (or quarantine it when the scan refuses)."""
    started = time.perf_counter()
    mode = opcode_mode()
    _check_label(label)
    limits = intake_limits()
    sha256 = ""
    report = None
    try:
        check_size(raw, limits=limits)
        sha256 = sha256_hex(raw)
        check_hash(sha256, expected_sha256=None, hash_allowlist=hash_allowlist())
        existing = ModelVersion.objects.filter(sha256=sha256).first()
        duplicate = None
        if existing is not None:
            duplicate = ModelVersionExists("this file is already registered",
                                           context={"label": existing.label, "sha256": sha256})
        elif ModelVersion.objects.filter(label=label).exists():
            duplicate = ModelVersionExists("a model version with this label exists", context={"label": label})
        if duplicate is not None:
            _attempt(action=action, actor=actor, version=existing, sha256=sha256, mode=mode, code=duplicate.code,
                     stage=duplicate.stage, message=duplicate.message, duration_s=time.perf_counter() - started,
                     reason=reason)
            raise duplicate
        blob = intake_bytes(raw, limits=limits, sha256=sha256)
        report = scan(blob.payload, mode=mode, allowlist=default_allowlist(), limits=scan_limits())
    except ModelSecurityError as exc:
        if sha256:
            exc.context.setdefault("sha256", sha256)
        report = exc.report
        if report is not None:
            opcode_audit_record(report=report, tag=label)
        quarantined = None
        if exc.stage == "scan":
            quarantined = ModelVersion.objects.create(
                label=label, sha256=sha256, size=len(raw), container="pickle", file_name="",
                feature_version=feature_version, status=ModelVersion.Status.QUARANTINED,
                scan_report=report.as_dict() if report else {"error": exc.as_dict()}, created_by=actor[:150])
        error = refusal_context(exc, active_version=_active_label(), mode=mode)
        _attempt(action=action, actor=actor, version=quarantined, sha256=sha256, mode=mode, code=error.code,
                 stage=error.stage, message=exc.message, findings=_findings(report),
                 duration_s=time.perf_counter() - started, reason=reason)
        raise error from None
    opcode_audit_record(report=report, tag=label)
    container = "joblib" if blob.compression or report.container == "joblib" else "pickle"
    if stored_name is None:
        stored_name = f"{label}-{sha256[:12]}.{'joblib' if container == 'joblib' else 'pkl'}"
        _write_model_file(raw, stored_name)
    version = ModelVersion.objects.create(
        label=label, sha256=sha256, size=len(raw), container=container, compression=blob.compression or "",
        protocol=report.protocol, file_name=stored_name, feature_version=feature_version,
        scan_report=report.as_dict(), metrics=metrics or {}, created_by=actor[:150])
    _attempt(action=action, actor=actor, version=version, sha256=sha256, mode=mode, code="success",
             duration_s=time.perf_counter() - started, reason=reason, after=version.summary())
    return Registration(version=version, report=report)


def model_version_upload(*, data: bytes, label: str, feature_version: str = "", actor: str,
                         reason: str = "") -> ModelVersion:
    """Register uploaded bytes: stored under CADML_MODEL_DIR by the service, never by a client path."""
    return _register(raw=data, label=label, feature_version=feature_version, actor=actor, action="upload",
                     stored_name=None, reason=reason).version


def model_version_register_from_dir(*, file_name: str, label: str, feature_version: str = "", actor: str,
                                    reason: str = "") -> ModelVersion:
    """Register a file already in CADML_MODEL_DIR, by plain file name (no paths, no links)."""
    started = time.perf_counter()
    try:
        raw = read_model_file(str(model_dir()), file_name, max_bytes=settings.CADML_MODEL_MAX_BYTES)
    except ModelSecurityError as exc:
        error = refusal_context(exc, active_version=_active_label(), mode=opcode_mode())
        _attempt(action="register", actor=actor, version=None, sha256="", mode=opcode_mode(), code=error.code,
                 stage=error.stage, message=exc.message, duration_s=time.perf_counter() - started, reason=reason)
        raise error from None
    return _register(raw=raw, label=label, feature_version=feature_version, actor=actor, action="register",
                     stored_name=file_name, reason=reason).version


# ----- loading, reload, rollback -----------------------------------------------------------------------
def _active_label() -> str | None:
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    return state.active.label if state and state.active_id else None


def _load_version(version: ModelVersion, *, expected_sha256: str | None = None, canary: bool = True) -> CheckedModel:
    """Read the version's file once and run the whole pipeline on those bytes."""
    if expected_sha256 and expected_sha256.lower() != version.sha256:
        raise HashMismatch("expected_sha256 differs from the version's sha256",
                           context={"sha256": version.sha256, "expected_sha256": expected_sha256.lower()})
    # Inference first: reading, hashing, scan, load and validation pause while this process runs a prediction.
    yield_point = foreground.gate.pacer()
    yield_point()
    raw = read_model_file(str(model_dir()), version.file_name, max_bytes=settings.CADML_MODEL_MAX_BYTES)
    return check_model_bytes(raw, mode=opcode_mode(), allowlist=default_allowlist(),
                             intake_limits=intake_limits(), scan_limits=scan_limits(),
                             hash_allowlist=hash_allowlist(), expected_sha256=version.sha256,
                             expected_dimension=_expected_dimension(version.feature_version), canary=canary,
                             yield_point=yield_point)


def _label_from_proba(model) -> bool:
    """Every allowed estimator predicts the most probable class, except SVC (Platt scaling can disagree)."""
    from sklearn.svm import SVC

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(final, "predict_proba") and not isinstance(final, SVC)


def _active_model(version: ModelVersion, checked: CheckedModel, sequence: int) -> ActiveModel:
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
    _attempt(action=action, actor=actor, version=version, sha256=version.sha256, mode=mode, code=error.code,
             stage=error.stage, message=exc.message, findings=_findings(report), duration_s=duration, reason=reason,
             before=_state_snapshot(state), after=_state_snapshot(state))
    MODEL_RELOAD_TOTAL.labels(error.code).inc()
    MODEL_RELOAD_DURATION.observe(duration)
    return error


def _swap(*, version: ModelVersion, checked: CheckedModel, rollback: bool) -> tuple[dict, dict, int]:
    """Make ``version`` the active one in the database and in this process (atomic swap)."""
    now = timezone.now()
    with transaction.atomic():
        state = registry_state(for_update=True)
        before = _state_snapshot(state)
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
        after = _state_snapshot(state)
        sequence = state.load_sequence
    holder.install(_active_model(version, checked, sequence), sequence=sequence)
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
        _attempt(action=action, actor=actor, version=None, sha256=(sha256 or "")[:64], mode=opcode_mode(),
                 code=exc.code, stage=exc.stage, message=f"{exc.message}: {version!r}", duration_s=0.0,
                 reason=reason)
        raise
    with _reload_lock:
        started = time.perf_counter()
        try:
            checked = _load_version(target, expected_sha256=expected_sha256)
        except ModelSecurityError as exc:
            raise _refuse(exc=exc, version=target, action=action, actor=actor, reason=reason,
                          started=started) from None
        opcode_audit_record(report=checked.report, tag=target.label)
        before, after, _ = _swap(version=target, checked=checked, rollback=False)
        duration = time.perf_counter() - started
        _attempt(action=action, actor=actor, version=target, sha256=target.sha256, mode=opcode_mode(),
                 code="success", findings=_findings(checked.report), duration_s=duration, reason=reason,
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
            _attempt(action="rollback", actor=actor, version=state.active, sha256="", mode=opcode_mode(),
                     code=error.code, stage=error.stage, message=error.message,
                     duration_s=time.perf_counter() - started, reason=reason, before=_state_snapshot(state))
            raise error
        target = ModelVersion.objects.get(pk=state.previous_ids[0])
        try:
            checked = _load_version(target)
        except ModelSecurityError as exc:
            raise _refuse(exc=exc, version=target, action="rollback", actor=actor, reason=reason,
                          started=started) from None
        opcode_audit_record(report=checked.report, tag=target.label)
        before, after, _ = _swap(version=target, checked=checked, rollback=True)
        duration = time.perf_counter() - started
        _attempt(action="rollback", actor=actor, version=target, sha256=target.sha256, mode=opcode_mode(),
                 code="success", duration_s=duration, reason=reason, before=before, after=after)
        MODEL_RELOAD_TOTAL.labels("success").inc()
        MODEL_RELOAD_DURATION.observe(duration)
        return target


# ----- process convergence -----------------------------------------------------------------------------
def model_process_sync() -> None:
    """Converge this process on the database's active version (keeps the current model on failure)."""
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    if state is None:  # nothing was ever activated (or the registry was emptied)
        holder.install(None, sequence=0)
        return
    if state.load_sequence == holder.sequence and holder.error is None:
        return
    if state.active is None:
        holder.install(None, sequence=state.load_sequence)
        return
    current = holder.active()
    if current is not None and current.version_id == state.active_id and current.sha256 == state.active.sha256:
        holder.install(current, sequence=state.load_sequence)
        return
    try:
        # Same bytes (sha256) the activating process checked with a canary predict: scan, restricted load
        # and validation run again here, the canary does not.
        checked = _load_version(state.active, canary=False)
    except ModelSecurityError as exc:
        logger.error("cannot load the active model %s in pid %s: %s", state.active.label, os.getpid(), exc.message)
        holder.note_error(sequence=state.load_sequence, version=state.active.label, code=exc.code,
                          message=exc.message)
        return
    holder.install(_active_model(state.active, checked, state.load_sequence), sequence=state.load_sequence)


def _background_sync() -> None:
    try:
        model_process_sync()
    finally:
        connection.close()  # the thread's own connection


def database_load_sequence() -> int:
    value = ModelRegistryState.objects.filter(pk=1).values_list("load_sequence", flat=True).first()
    return value or 0


def model_refresh_if_stale() -> None:
    """Per-request, cheap, non-blocking convergence check (at most one small query per interval)."""
    holder.maybe_refresh(interval=settings.CADML_MODEL_SYNC_INTERVAL_SECONDS, read_sequence=database_load_sequence,
                         load=_background_sync)


def model_process_initialize() -> None:
    """Run after fork in every web and Celery worker: load the active model before serving."""
    holder.reset_after_fork()
    foreground.gate.reset_after_fork()
    try:
        holder.sync_now(model_process_sync)
    finally:
        connection.close()


# ----- training ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingResult:
    version: ModelVersion
    cv_scores: list[float]
    n_samples: int
    class_counts: dict[str, int]
    activated: bool


def model_train_classifier(*, feature_version: str, actor: str, estimator: str = "random_forest",
                           label: str | None = None, cv_folds: int = 5, activate: bool = False,
                           progress=None) -> TrainingResult:
    """Train on labelled vectors (meta ``part_type``), cross-validate, register a joblib candidate."""
    import joblib
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from modelops.security.reference_models import ESTIMATOR_TYPES, make_estimator
    from vectors.selectors import labelled_vectors

    if estimator not in ESTIMATOR_TYPES:
        raise NotEnoughTrainingData(f"unknown estimator {estimator!r}", code="unknown_estimator",
                                    context={"choices": list(ESTIMATOR_TYPES)})
    rows, labels = labelled_vectors(feature_version=feature_version, label_field="part_type")
    counts: dict[str, int] = {}
    for value in labels:
        counts[value] = counts.get(value, 0) + 1
    dims = {len(r) for r in rows}
    if len(counts) < 2 or min(counts.values()) < 2 or len(dims) != 1:
        raise NotEnoughTrainingData("need at least two labelled vectors for each of at least two part types",
                                    context={"feature_version": feature_version, "class_counts": counts})
    X = np.vstack(rows).astype(np.float64)
    y = np.array(labels)
    folds = max(2, min(cv_folds, min(counts.values())))
    model = make_estimator(estimator, small=False)
    if progress:
        progress(f"cross-validating {estimator} on {len(y)} vectors ({len(counts)} part types, {folds} folds)")
    scores = cross_val_score(model, X, y, cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=0))
    model.fit(X, y)
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=("zlib", 3))
    label = label or f"{estimator.replace('_', '-')}-{feature_version}-{timezone.now():%Y%m%d-%H%M%S}"
    metrics = {"cv_accuracy_mean": float(np.mean(scores)), "cv_accuracy_std": float(np.std(scores)),
               "cv_folds": folds, "n_samples": len(y), "class_counts": counts}
    registration = _register(raw=buf.getvalue(), label=label, feature_version=feature_version, actor=actor,
                             action="train", stored_name=None, metrics=metrics)
    version = registration.version
    if activate:
        version = model_reload(version=version.pk, actor=actor, reason="train_classifier --activate",
                               action="activate")
    return TrainingResult(version=version, cv_scores=[float(s) for s in scores], n_samples=len(y),
                          class_counts=counts, activated=activate)
