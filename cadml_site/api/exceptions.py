"""One error hierarchy and one exception handler.

Every error leaves the API as an RFC 9457 problem-details body (``application/problem+json``) with our fields::

    {type, title, status, detail, code, stage, message, context, timestamp, request_id}

Domain code raises a ``DomainError`` subclass; DRF's own exceptions (validation, authentication, throttling...)
are mapped to the same shape; anything else is a 500 whose body reveals nothing and whose traceback is logged with
the request id.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from cadml_site.request_context import current_request_id

logger = logging.getLogger("cadml.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cadml.dev/problems/"


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    status: int = 400
    code: str = "bad_request"
    stage: str = "request"
    title: str = "Bad request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        stage: str | None = None,
        context: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if stage is not None:
            self.stage = stage
        if status is not None:
            self.status = status
        self.context = dict(context or {})
        self.headers = dict(headers or {})


class BadRequest(DomainError):
    status, code, title = 400, "bad_request", "Bad request"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(DomainError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class BrokerUnavailable(ServiceUnavailable):
    """The Celery broker cannot take a task: the work was not enqueued (nothing half-done is left behind)."""

    status, code, title = 503, "broker_unavailable", "Broker unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    status, code, title = 503, "database_unavailable", "Database unavailable"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """True for the driver errors that mean "the database cannot be reached or lost the connection".

    Django wraps them as ``OperationalError`` (connection refused or reset, server shutting down, connect timeout,
    SQLite's "database is locked"/"unable to open") and ``InterfaceError`` (a connection already closed). Both are
    transient faults of a dependency, never of the request, so they are answered 503 instead of 500.
    """
    return isinstance(exc, (DatabaseOperationalError, DatabaseInterfaceError))


def database_unavailable_problem(*, surface: str, stage: str = "database") -> tuple[dict[str, Any], dict[str, str]]:
    """The 503 body and headers for a request that needed the database while it was unreachable."""
    from django.conf import settings

    from cadml_site.metrics import DATABASE_UNAVAILABLE_TOTAL

    DATABASE_UNAVAILABLE_TOTAL.labels(surface).inc()
    retry_after = settings.CADML_DATABASE_RETRY_AFTER_SECONDS
    body = problem_body(status=503, title=DatabaseUnavailable.title, code=DatabaseUnavailable.code, stage=stage,
                        message="The database is unavailable; retry later.",
                        context={"retry_after_seconds": retry_after})
    return body, {"Retry-After": str(retry_after)}


def database_unavailable_response(*, surface: str) -> JsonResponse:
    """``database_unavailable_problem`` as a plain Django response (admin, landing page, handler500)."""
    body, headers = database_unavailable_problem(surface=surface)
    response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in headers.items():
        response[name] = value
    return response


def problem_body(
    *,
    status: int,
    title: str,
    code: str,
    stage: str,
    message: str,
    context: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": message,
        "code": code,
        "stage": stage,
        "message": message,
        "context": context or {},
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return body


def _field_errors(detail, prefix: str = "") -> list[dict[str, str]]:
    """Flattens DRF's nested validation detail into ``[{field, code, message}]``."""
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(_field_errors(value, name))
    elif isinstance(detail, list):
        if all(isinstance(item, drf.ErrorDetail) for item in detail):
            for item in detail:
                errors.append({"field": prefix or "non_field_errors", "code": item.code, "message": str(item)})
        else:
            for index, item in enumerate(detail):
                errors.extend(_field_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        errors.append({"field": prefix or "non_field_errors", "code": getattr(detail, "code", "invalid"),
                       "message": str(detail)})
    return errors


def _drf_problem(exc: drf.APIException) -> tuple[dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    status = exc.status_code
    if isinstance(exc, drf.ValidationError):
        errors = _field_errors(exc.detail)
        fields = sorted({e["field"] for e in errors})
        body = problem_body(
            status=400, title="Invalid request", code="validation_failed", stage="validation",
            message="The request is invalid: " + ", ".join(fields), context={"fields": fields},
            extra={"errors": errors},
        )
        return body, headers
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        code = getattr(exc, "problem_code", "not_authenticated")
        title = "Authentication required"
    elif isinstance(exc, drf.PermissionDenied):
        code = getattr(exc, "problem_code", "permission_denied")
        title = "Permission denied"
    elif isinstance(exc, drf.Throttled):
        code, title = "throttled", "Too many requests"
        if exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    elif isinstance(exc, drf.UnsupportedMediaType):
        code, title = "unsupported_media_type", "Unsupported media type"
    elif isinstance(exc, drf.MethodNotAllowed):
        code, title = "method_not_allowed", "Method not allowed"
    elif isinstance(exc, drf.NotFound):
        code, title = "not_found", "Not found"
    elif isinstance(exc, drf.ParseError):
        code, title = "malformed_request", "Malformed request"
    elif isinstance(exc, drf.NotAcceptable):
        code, title = "not_acceptable", "Not acceptable"
    else:
        code, title = exc.default_code or "error", "Error"
    context: dict[str, Any] = {}
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        context["retry_after_seconds"] = int(exc.wait + 0.999)
    body = problem_body(status=status, title=title, code=code, stage="request", message=str(exc.detail),
                        context=context)
    return body, headers


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=body["status"], headers=headers or None, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        body = problem_body(status=exc.status, title=exc.title, code=exc.code, stage=exc.stage,
                            message=exc.message, context=exc.context)
        return problem_response(body, exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        body = problem_body(status=413, title="Payload too large", code="payload_too_large", stage="intake",
                            message="The request body is larger than the server accepts.")
        return problem_response(body)
    if isinstance(exc, drf.APIException):
        body, headers = _drf_problem(exc)
        return problem_response(body, headers)
    if is_database_unavailable(exc):
        logger.warning("Database unavailable while serving request %s: %s", current_request_id(),
                       type(exc).__name__)
        body, headers = database_unavailable_problem(surface="api")
        return problem_response(body, headers)
    logger.exception("Unhandled error while serving request %s", current_request_id())
    body = problem_body(status=500, title="Internal server error", code="internal_error", stage="server",
                        message="The server failed to handle the request. Quote the request id when reporting it.")
    return problem_response(body)


def plain_problem(status: int, title: str, code: str, message: str) -> JsonResponse:
    """A problem response outside DRF (handlers, middleware)."""
    return _plain_problem(status, title, code, message)


def _plain_problem(status: int, title: str, code: str, message: str) -> JsonResponse:
    body = problem_body(status=status, title=title, code=code, stage="request", message=message)
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def not_found_view(request, exception=None):
    """``handler404``: problem body for API paths, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return _plain_problem(404, "Not found", "not_found", f"No endpoint at {request.path}.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error_view(request):
    """``handler500``: problem body for API paths, Django's page elsewhere.

    Django calls it inside the ``except`` block of the failed request, so ``sys.exc_info()`` names the error: a
    database that could not be reached (raised by a middleware, outside any view) is a 503, not a 500.
    """
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(surface="site")
    if request.path.startswith("/api/"):
        return _plain_problem(500, "Internal server error", "internal_error",
                              "The server failed to handle the request. Quote the request id when reporting it.")
    from django.views.defaults import server_error

    return server_error(request)
