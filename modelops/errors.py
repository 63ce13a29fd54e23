"""Domain errors of the modelops app (rendered as application/problem+json by the shared handler).

``domain_error_from`` maps the Django-free ``ModelSecurityError`` of the security pipeline onto them:
intake/hash/scan failures keep their plan code; a load or validation failure, after which the model that
was active stays active, is ``rollback``.
"""

from __future__ import annotations

from cadml_site.api.exceptions import (
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
    code, stage, title = "size_exceeded", "intake", "Model too large"


class ModelMagicInvalid(UnsupportedMediaType):
    code, stage, title = "magic_invalid", "intake", "Unsupported model format"


class ModelHashMismatch(Conflict):
    code, stage, title = "hash_mismatch", "hash", "Model hash refused"


class ModelOpcodeBlocked(Unprocessable):
    code, stage, title = "opcode_blocked", "scan", "Model refused by the scanner"


class ModelOpcodeScanError(Unprocessable):
    code, stage, title = "opcode_scan_error", "scan", "Model stream cannot be parsed"


class ModelRollback(Unprocessable):
    code, stage, title = "rollback", "load", "Model refused; the active model was kept"


class ModelFileRefused(BadRequest):
    code, stage, title = "model_file_refused", "intake", "Model file refused"


class ModelVersionNotFound(NotFound):
    code, stage, title = "model_version_not_found", "request", "Model version not found"


class ModelFileNotFound(NotFound):
    code, stage, title = "model_file_missing", "intake", "Model file not found"


class ModelVersionExists(Conflict):
    code, stage, title = "model_version_exists", "request", "Model version already registered"


class NothingToRollBack(Conflict):
    code, stage, title = "nothing_to_rollback", "swap", "No previous model to roll back to"


class NoActiveModel(ServiceUnavailable):
    code, stage, title = "no_active_model", "predict", "No active model"


class FeatureVersionMismatch(Unprocessable):
    code, stage, title = "feature_version_mismatch", "predict", "Feature version does not match the model"


class DimensionMismatch(Unprocessable):
    code, stage, title = "dimension_mismatch", "predict", "Vector dimension does not match the model"


class NotEnoughTrainingData(Unprocessable):
    code, stage, title = "not_enough_training_data", "train", "Not enough labelled vectors"


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
