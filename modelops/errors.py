"""Domain errors of the modelops app (rendered as application/problem+json by the shared handler).

``domain_error_from`` maps the Django-free ``ModelSecurityError`` of the security pipeline onto them:
intake/hash/scan failures keep their plan code; a load or validation failure, after which the model that
was active stays active, is ``rollback``.
"""

from __future__ import annotations

from cadml_site.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from modelops.security.errors import ModelSecurityError


class ModelSizeExceeded(PayloadTooLarge):
    code, stage = "size_exceeded", "intake"


class ModelMagicInvalid(UnsupportedMediaType):
    code, stage = "magic_invalid", "intake"


class ModelHashMismatch(Conflict):
    code, stage = "hash_mismatch", "hash"


class ModelOpcodeBlocked(Unprocessable):
    code, stage = "opcode_blocked", "scan"


class ModelOpcodeScanError(Unprocessable):
    code, stage = "opcode_scan_error", "scan"


class ModelRollback(Unprocessable):
    code, stage = "rollback", "load"


class ModelFileRefused(BadRequest):
    code, stage = "model_file_refused", "intake"


class ModelVersionNotFound(NotFound):
    code, stage = "model_version_not_found", "request"


class ModelFileNotFound(NotFound):
    code, stage = "model_file_missing", "intake"


class ModelVersionExists(Conflict):
    code, stage = "model_version_exists", "request"


class NothingToRollBack(Conflict):
    code, stage = "nothing_to_rollback", "swap"


class NoActiveModel(ServiceUnavailable):
    code, stage = "no_active_model", "predict"


class FeatureVersionMismatch(Unprocessable):
    code, stage = "feature_version_mismatch", "predict"


class DimensionMismatch(Unprocessable):
    code, stage = "dimension_mismatch", "predict"


class NotEnoughTrainingData(Unprocessable):
    code, stage = "not_enough_training_data", "train"


_BY_CODE: dict[str, type[DomainError]] = {
    "size_exceeded": ModelSizeExceeded,
    "magic_invalid": ModelMagicInvalid,
    "hash_mismatch": ModelHashMismatch,
    "opcode_blocked": ModelOpcodeBlocked,
    "opcode_scan_error": ModelOpcodeScanError,
    "intake_refused": ModelFileRefused,
    "model_file_missing": ModelFileNotFound,
}
_CONTEXT_KEYS = ("rule", "offset", "opcode", "global", "mode", "sha256", "expected_sha256", "detail", "events",
                 "limit", "size", "compression", "magic", "name", "expected", "actual", "parameter", "type")


def domain_error_from(exc: ModelSecurityError, *, active_version: str | None, mode: str,
                      rollback_codes: bool = True) -> DomainError:
    """Map a pipeline refusal; load/validate failures become ``rollback`` (the active model was kept)."""
    context = {key: exc.context[key] for key in _CONTEXT_KEYS if key in exc.context}
    context.setdefault("mode", mode)
    context["active_version"] = active_version
    cls = _BY_CODE.get(exc.code)
    if rollback_codes and exc.code in ("intake_refused", "model_file_missing"):
        cls = None  # the registered file is gone or was replaced by a link: the active model is kept
    if cls is None:
        if rollback_codes:
            context["reason"] = exc.code
            return ModelRollback(exc.message, stage=exc.stage, context=context)
        return Unprocessable(exc.message, code=exc.code, stage=exc.stage, context=context)
    return cls(exc.message, stage=exc.stage, context=context)
