"""Domain errors of the modelops app (rendered as application/problem+json by the shared handler).

The security pipeline's refusals (size, magic, hash, scan, load, validation, file intake) are the
``ModelSecurityError`` family of ``modelops.security.errors``: domain errors themselves, answered as they are.
The one translation left is ``reload_refusal``: during a reload or rollback, a model that cannot be read,
loaded or validated is answered ``rollback`` (the active model was kept), with the pipeline's code as
``context.reason``.
"""

from __future__ import annotations

from cadml_site.errors import Conflict, DomainError, NotFound, ServiceUnavailable, Unprocessable
from modelops.security.errors import IntakeRefused, ModelSecurityError


class ModelRollback(Unprocessable):
    code, stage = "rollback", "load"


class ModelVersionNotFound(NotFound):
    code, stage = "model_version_not_found", "request"


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


# What a refusal's context says (the API contract): the pipeline's own keys, then mode and active_version.
REFUSAL_CONTEXT_KEYS = ("rule", "offset", "opcode", "global", "mode", "sha256", "expected_sha256", "detail",
                        "events", "limit", "size", "compression", "magic", "name", "expected", "actual",
                        "parameter", "type")


def refusal_context(exc: ModelSecurityError, *, active_version: str | None, mode: str) -> ModelSecurityError:
    """The refusal as the API answers it: its context narrowed to the contract keys, with the scanner mode and
    the version that is (still) active. Returns ``exc`` itself."""
    context = {key: exc.context[key] for key in REFUSAL_CONTEXT_KEYS if key in exc.context}
    context.setdefault("mode", mode)
    context["active_version"] = active_version
    exc.context = context
    return exc


def keeps_active_model(exc: ModelSecurityError) -> bool:
    """A refusal after which a reload answers ``rollback``: the file could not be read safely (gone, replaced by
    a link...), or its load or validation failed. Size, magic, hash and scan refusals keep their own code."""
    return isinstance(exc, IntakeRefused) or exc.stage in ("load", "validate")


def reload_refusal(exc: ModelSecurityError, *, active_version: str | None, mode: str) -> DomainError:
    """The answer to a refused reload or rollback: ``rollback`` when ``keeps_active_model``, else the refusal."""
    refusal_context(exc, active_version=active_version, mode=mode)
    if not keeps_active_model(exc):
        return exc
    return ModelRollback(exc.message, stage=exc.stage, context={**exc.context, "reason": exc.code})
