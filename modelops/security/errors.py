"""Structured, Django-free errors raised by the model security pipeline.

They are the service's domain errors (``cadml_site.errors.DomainError``, itself Django-free): each carries a
``code`` that is a row of ``cadml_site.errors.ERROR_CODES`` (its HTTP status comes from there), the ``stage``
that refused the model and a JSON-serialisable ``context`` (rule, offset, opcode, global, mode, sha256, ...).
The API answers them as they are; the one translation left is a load or validation failure during a reload
or rollback, answered as ``rollback`` (``modelops.errors.ModelRollback``: the active model was kept).
"""

from __future__ import annotations

from typing import Any

from cadml_site.errors import DomainError


class ModelSecurityError(DomainError):
    code = "model_refused"
    stage = "load"

    def __init__(self, message: str, *, stage: str | None = None, context: dict[str, Any] | None = None,
                 report: Any = None):
        super().__init__(message, stage=stage, context=context)
        # The scan report gathered so far (findings, opcode and global counts), when there is one.
        self.report = report


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
    """The file cannot be opened safely (not a plain name, not regular, a link, hard-linked, an unreadable
    model directory)."""

    code = "model_file_refused"
    stage = "intake"


class ModelFileMissing(IntakeRefused):
    """No file of that name in the model directory."""

    code = "model_file_missing"
