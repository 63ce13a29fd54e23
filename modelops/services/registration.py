"""Registration: uploaded bytes, a file already in CADML_MODEL_DIR, or a trained model become a candidate version.

Every path runs the security pipeline's static half (``screen_model_bytes``: size, hash, intake, scan; nothing is
unpickled), records the opcode audit of the scan and one ``ModelReloadAttempt``. A file the scan refuses is kept
as a ``quarantined`` version without a loadable file.
"""

from __future__ import annotations

import os
import re
import secrets
import time

from cadml_site.errors import BadRequest
from modelops.errors import ModelVersionExists, refusal_context
from modelops.models import ModelVersion
from modelops.security.allowlist import default_allowlist
from modelops.security.errors import ModelSecurityError
from modelops.security.intake import sha256_hex
from modelops.security.pipeline import screen_model_bytes
from modelops.services.audit import attempt_record, opcode_audit_record, scan_findings
from modelops.services.configuration import (
    active_label,
    hash_allowlist,
    intake_limits,
    model_dir,
    opcode_mode,
    read_model_bytes,
    scan_limits,
)

LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")


def _check_label(label: str) -> None:
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
            if sha256_hex(read_model_bytes(name)) != sha256_hex(raw):
                raise ModelVersionExists("a different file with this name exists in CADML_MODEL_DIR",
                                         context={"file_name": name}) from None
    finally:
        tmp.unlink(missing_ok=True)


def model_version_register_bytes(*, raw: bytes, label: str, feature_version: str, actor: str, action: str,
                                 stored_name: str | None, metrics: dict | None = None,
                                 reason: str = "") -> ModelVersion:
    """Screen ``raw`` and record it as a candidate (or quarantine it when the scan refuses). ``stored_name`` is
    the file already in CADML_MODEL_DIR; without it the bytes are stored there under a name of the service's."""
    started = time.perf_counter()
    mode = opcode_mode()
    _check_label(label)

    def refuse_duplicates(sha256: str) -> None:
        existing = ModelVersion.objects.filter(sha256=sha256).first()
        if existing is not None:
            duplicate = ModelVersionExists("this file is already registered",
                                           context={"label": existing.label, "sha256": sha256})
        elif ModelVersion.objects.filter(label=label).exists():
            duplicate = ModelVersionExists("a model version with this label exists", context={"label": label})
        else:
            return
        attempt_record(action=action, actor=actor, version=existing, sha256=sha256, mode=mode,
                       code=duplicate.code, stage=duplicate.stage, message=duplicate.message,
                       duration_s=time.perf_counter() - started, reason=reason)
        raise duplicate

    try:
        screened = screen_model_bytes(raw, mode=mode, allowlist=default_allowlist(), intake_limits=intake_limits(),
                                      scan_limits=scan_limits(), hash_allowlist=hash_allowlist(),
                                      admit=refuse_duplicates)
    except ModelSecurityError as exc:
        sha256 = exc.context.get("sha256", "")
        report = exc.report
        if report is not None:
            opcode_audit_record(report=report, tag=label)
        quarantined = None
        if exc.stage == "scan":
            quarantined = ModelVersion.objects.create(
                label=label, sha256=sha256, size=len(raw), container="pickle", file_name="",
                feature_version=feature_version, status=ModelVersion.Status.QUARANTINED,
                scan_report=report.as_dict() if report else {"error": exc.as_dict()}, created_by=actor[:150])
        refusal_context(exc, active_version=active_label(), mode=mode)
        attempt_record(action=action, actor=actor, version=quarantined, sha256=sha256, mode=mode, code=exc.code,
                       stage=exc.stage, message=exc.message, findings=scan_findings(report),
                       duration_s=time.perf_counter() - started, reason=reason)
        raise exc from None
    blob, report = screened.blob, screened.report
    opcode_audit_record(report=report, tag=label)
    container = "joblib" if blob.compression or report.container == "joblib" else "pickle"
    if stored_name is None:
        stored_name = f"{label}-{blob.sha256[:12]}.{'joblib' if container == 'joblib' else 'pkl'}"
        _write_model_file(raw, stored_name)
    version = ModelVersion.objects.create(
        label=label, sha256=blob.sha256, size=len(raw), container=container, compression=blob.compression or "",
        protocol=report.protocol, file_name=stored_name, feature_version=feature_version,
        scan_report=report.as_dict(), metrics=metrics or {}, created_by=actor[:150])
    attempt_record(action=action, actor=actor, version=version, sha256=blob.sha256, mode=mode, code="success",
                   duration_s=time.perf_counter() - started, reason=reason, after=version.summary())
    return version


def model_version_upload(*, data: bytes, label: str, feature_version: str = "", actor: str,
                         reason: str = "") -> ModelVersion:
    """Register uploaded bytes: stored under CADML_MODEL_DIR by the service, never by a client path."""
    return model_version_register_bytes(raw=data, label=label, feature_version=feature_version, actor=actor,
                                        action="upload", stored_name=None, reason=reason)


def model_version_register_from_dir(*, file_name: str, label: str, feature_version: str = "", actor: str,
                                    reason: str = "") -> ModelVersion:
    """Register a file already in CADML_MODEL_DIR, by plain file name (no paths, no links)."""
    started = time.perf_counter()
    try:
        raw = read_model_bytes(file_name)
    except ModelSecurityError as exc:
        mode = opcode_mode()
        refusal_context(exc, active_version=active_label(), mode=mode)
        attempt_record(action="register", actor=actor, version=None, sha256="", mode=mode, code=exc.code,
                       stage=exc.stage, message=exc.message, duration_s=time.perf_counter() - started,
                       reason=reason)
        raise exc from None
    return model_version_register_bytes(raw=raw, label=label, feature_version=feature_version, actor=actor,
                                        action="register", stored_name=file_name, reason=reason)
