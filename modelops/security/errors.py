"""Structured, Django-free errors raised by the model security pipeline.

Each error carries a ``code`` (the contract codes of issue 5), the ``stage`` that refused the model and
a JSON-serialisable ``context`` (rule, offset, opcode, global, mode, sha256, ...). The service layer maps
them onto ``DomainError`` subclasses; nothing here imports Django.
"""

from __future__ import annotations

from typing import Any


class ModelSecurityError(Exception):
    code = "model_refused"
    stage = "load"

    def __init__(self, message: str, *, stage: str | None = None, context: dict[str, Any] | None = None,
                 report: Any = None):
        super().__init__(message)
        self.message = message
        if stage is not None:
            self.stage = stage
        self.context = dict(context or {})
        # The scan report gathered so far (findings, opcode and global counts), when there is one.
        self.report = report

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "stage": self.stage, "message": self.message, "context": self.context}


class SizeExceeded(ModelSecurityError):
    """The file (or its decompressed payload) is larger than a configured cap."""

    code = "size_exceeded"
    stage = "intake"


class MagicInvalid(ModelSecurityError):
    """The bytes are not a pickle (protocol 2-5) or a supported joblib container."""

    code = "magic_invalid"
    stage = "intake"


class HashMismatch(ModelSecurityError):
    """The sha256 is not on the allow-list or differs from the expected one."""

    code = "hash_mismatch"
    stage = "hash"


class OpcodeBlocked(ModelSecurityError):
    """The static scan found something the active mode refuses."""

    code = "opcode_blocked"
    stage = "scan"


class OpcodeScanError(ModelSecurityError):
    """The stream cannot be parsed exactly (malformed, lying lengths or frames, limits): fail closed."""

    code = "opcode_scan_error"
    stage = "scan"


class LoadRefused(ModelSecurityError):
    """The restricted unpickler or the audit-hook tripwire refused the load."""

    code = "load_refused"
    stage = "load"


class ValidationFailed(ModelSecurityError):
    """The loaded object is not an acceptable model or failed its canary predict."""

    code = "model_validation_failed"
    stage = "validate"


class IntakeRefused(ModelSecurityError):
    """The file cannot be opened safely (missing, not regular, a link, outside the model directory)."""

    code = "intake_refused"
    stage = "intake"


class ModelFileMissing(IntakeRefused):
    """No file of that name in the model directory."""

    code = "model_file_missing"
