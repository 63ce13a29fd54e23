"""The one error vocabulary of the service: Django-free domain errors and the one table of what each code answers.

Every error the service raises on purpose is a ``DomainError`` carrying a stable ``code``, the ``stage`` that
refused the request, a ``message`` and a JSON-safe ``context``. What a code answers over HTTP (status and title)
is written once, in ``ERROR_CODES``; the problem-details handler (``cadml_site.api.exceptions``) reads it, so one
code means one status in every app. A class or a raise naming a code that is not in the table fails at once
(import time for a class, raise time for a call), and ``tests/site/test_error_vocabulary.py`` walks every code the
code base names.

Nothing here imports Django: parsers, the scanner, the index and the cache core raise these errors directly.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class ErrorCode(NamedTuple):
    status: int
    title: str


# code -> (HTTP status, problem title). One row per code; grouped by the status they answer.
ERROR_CODES: dict[str, ErrorCode] = {
    # 400: the request itself is malformed or invalid
    "bad_request": ErrorCode(400, "Bad request"),
    "validation_failed": ErrorCode(400, "Invalid request"),
    "malformed_request": ErrorCode(400, "Malformed request"),
    "invalid_filter": ErrorCode(400, "Invalid filter"),
    "invalid_query": ErrorCode(400, "Invalid query"),
    "invalid_cache_entry": ErrorCode(400, "Invalid cache entry"),
    "invalid_cache_key": ErrorCode(400, "Invalid cache key"),
    "invalid_label": ErrorCode(400, "Invalid label"),
    "out_of_bounds": ErrorCode(400, "Setting out of bounds"),
    "nothing_to_apply": ErrorCode(400, "Nothing to apply"),
    "reason_required": ErrorCode(400, "Reason required"),
    "reason_too_long": ErrorCode(400, "Reason too long"),
    "name_required": ErrorCode(400, "Name required"),
    "scope_invalid": ErrorCode(400, "Invalid scope"),
    "user_not_staff": ErrorCode(400, "User is not staff"),
    "model_file_refused": ErrorCode(400, "Model file refused"),
    # 401: no credentials, or credentials that are not valid
    "not_authenticated": ErrorCode(401, "Authentication required"),
    "api_key_missing": ErrorCode(401, "Authentication required"),
    "api_key_invalid": ErrorCode(401, "Authentication required"),
    "api_key_revoked": ErrorCode(401, "Authentication required"),
    "admin_token_invalid": ErrorCode(401, "Authentication required"),
    "admin_token_revoked": ErrorCode(401, "Authentication required"),
    "admin_token_inactive_user": ErrorCode(401, "Authentication required"),
    "metrics_token_required": ErrorCode(401, "Authentication required"),
    # 403: authenticated, not allowed
    "permission_denied": ErrorCode(403, "Permission denied"),
    "admin_token_required": ErrorCode(403, "Permission denied"),
    "not_staff": ErrorCode(403, "Permission denied"),
    "permission_required": ErrorCode(403, "Permission denied"),
    "permission_undeclared": ErrorCode(403, "Permission denied"),
    "api_key_scope_insufficient": ErrorCode(403, "Permission denied"),
    # 404: the thing named does not exist
    "not_found": ErrorCode(404, "Not found"),
    "analysis_not_found": ErrorCode(404, "Analysis not found"),
    "cad_file_not_found": ErrorCode(404, "CAD file not found"),
    "original_not_stored": ErrorCode(404, "Original not stored"),
    "api_key_not_found": ErrorCode(404, "API key not found"),
    "admin_token_not_found": ErrorCode(404, "Admin token not found"),
    "user_not_found": ErrorCode(404, "User not found"),
    "vector_not_found": ErrorCode(404, "Vector not found"),
    "migration_not_found": ErrorCode(404, "Migration not found"),
    "model_version_not_found": ErrorCode(404, "Model version not found"),
    "model_file_missing": ErrorCode(404, "Model file not found"),
    "snapshot_not_found": ErrorCode(404, "Snapshot not found"),
    "thumbnail_not_ready": ErrorCode(404, "Thumbnail not ready"),
    # 405, 406
    "method_not_allowed": ErrorCode(405, "Method not allowed"),
    "not_acceptable": ErrorCode(406, "Not acceptable"),
    # 409: the request conflicts with the current state
    "conflict": ErrorCode(409, "Conflict"),
    "name_taken": ErrorCode(409, "Name taken"),
    "needs_source": ErrorCode(409, "Original needed"),
    "original_mismatch": ErrorCode(409, "Original does not match"),
    "generation_not_reached": ErrorCode(409, "Generation not reached"),
    "rebuild_in_progress": ErrorCode(409, "Rebuild in progress"),
    "migration_conflict": ErrorCode(409, "Migration in progress"),
    "hash_mismatch": ErrorCode(409, "Model hash refused"),
    "model_version_exists": ErrorCode(409, "Model version already registered"),
    "nothing_to_rollback": ErrorCode(409, "Nothing to roll back"),
    "no_open_window": ErrorCode(409, "No rollback window open"),
    "not_the_window_change": ErrorCode(409, "Not the change the window is open for"),
    "rollback_window_active": ErrorCode(409, "Rollback window open"),
    "rollback_window_expired": ErrorCode(409, "Rollback window expired"),
    "settings_unchanged": ErrorCode(409, "Settings unchanged"),
    # 413: too large
    "payload_too_large": ErrorCode(413, "Payload too large"),
    "file_too_large": ErrorCode(413, "File too large"),
    "size_exceeded": ErrorCode(413, "Model too large"),
    # 415: a format the service does not take
    "unsupported_media_type": ErrorCode(415, "Unsupported media type"),
    "unsupported_format": ErrorCode(415, "Unsupported format"),
    "unknown_format": ErrorCode(415, "Unknown format"),
    "magic_invalid": ErrorCode(415, "Unsupported model format"),
    # 422: well-formed, but its content cannot be processed
    "unprocessable": ErrorCode(422, "Unprocessable content"),
    "invalid_text": ErrorCode(422, "Invalid text"),
    "unknown_feature_version": ErrorCode(422, "Unknown feature version"),
    "dimension_mismatch": ErrorCode(422, "Dimension mismatch"),
    "invalid_vector": ErrorCode(422, "Invalid vector"),
    "vector_invalid": ErrorCode(422, "Invalid vector"),
    "invalid_key": ErrorCode(422, "Invalid key"),
    "invalid_meta": ErrorCode(422, "Invalid meta"),
    "duplicate_key": ErrorCode(422, "Duplicate key"),
    "match_needs_v5": ErrorCode(422, "Match needs feature version v5"),
    "invalid_migration": ErrorCode(422, "Invalid migration"),
    "feature_version_mismatch": ErrorCode(422, "Feature version does not match the model"),
    "not_enough_training_data": ErrorCode(422, "Not enough labelled vectors"),
    "unknown_estimator": ErrorCode(422, "Unknown estimator"),
    "empty_document": ErrorCode(422, "Empty document"),
    "parse_failed": ErrorCode(422, "File cannot be parsed"),
    "parse_timeout": ErrorCode(422, "Parse timed out"),
    "parse_crashed": ErrorCode(422, "Parser crashed"),
    "parse_memory_limit": ErrorCode(422, "Parser memory limit"),
    "block_cycle": ErrorCode(422, "Block cycle"),
    "block_depth_exceeded": ErrorCode(422, "Block nesting too deep"),
    "entity_budget_exceeded": ErrorCode(422, "Entity budget exceeded"),
    "line_too_long": ErrorCode(422, "Line too long"),
    "model_refused": ErrorCode(422, "Model refused"),
    "opcode_blocked": ErrorCode(422, "Model refused by the scanner"),
    "opcode_scan_error": ErrorCode(422, "Model stream cannot be parsed"),
    "load_refused": ErrorCode(422, "Model load refused"),
    "model_validation_failed": ErrorCode(422, "Model failed validation"),
    "rollback": ErrorCode(422, "Model refused; the active model was kept"),
    # 429
    "throttled": ErrorCode(429, "Too many requests"),
    # 500: never raised on purpose; the handler's answer to a bug
    "internal_error": ErrorCode(500, "Internal server error"),
    # 503: a dependency is down (always with Retry-After where the service knows when to retry)
    "service_unavailable": ErrorCode(503, "Service unavailable"),
    "database_unavailable": ErrorCode(503, "Database unavailable"),
    "broker_unavailable": ErrorCode(503, "Broker unavailable"),
    "parser_unavailable": ErrorCode(503, "Parser unavailable"),
    "original_storage_unavailable": ErrorCode(503, "Storage unavailable"),
    "index_rebuild_failed": ErrorCode(503, "Index rebuild failed"),
    "no_active_model": ErrorCode(503, "No active model"),
}


class UnknownErrorCode(LookupError):
    """A code that is not in ``ERROR_CODES``: a programming error, caught by the first test that reaches it."""


def error_code(code: str) -> ErrorCode:
    try:
        return ERROR_CODES[code]
    except KeyError:
        raise UnknownErrorCode(f"error code {code!r} is not in cadml_site.errors.ERROR_CODES") from None


def status_of(code: str) -> int:
    return error_code(code).status


def title_of(code: str) -> str:
    return error_code(code).title


class DomainError(Exception):
    """Base of every error the service raises on purpose. Its HTTP status and title come from its code."""

    code: str = "bad_request"
    stage: str = "request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        error_code(cls.code)

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        stage: str | None = None,
        context: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            error_code(code)
            self.code = code
        if stage is not None:
            self.stage = stage
        self.context = dict(context or {})
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return status_of(self.code)

    @property
    def title(self) -> str:
        return title_of(self.code)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "stage": self.stage, "message": self.message, "context": self.context}


# The kinds: a default code per status, for errors that name their own code at the raise.
class BadRequest(DomainError):
    code = "bad_request"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class Unprocessable(DomainError):
    code = "unprocessable"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"


class BrokerUnavailable(ServiceUnavailable):
    """The Celery broker cannot take a task: the work was not enqueued (nothing half-done is left behind)."""

    code = "broker_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
