"""The one problem-details handler.

Every error leaves the API as an RFC 9457 problem-details body (``application/problem+json``) with our fields::

    {type, title, status, detail, code, stage, message, context, timestamp, request_id}

Domain code raises a ``DomainError`` (``cadml_site.errors``, Django-free); DRF's own exceptions (validation,
authentication, throttling...) are mapped to codes of the same vocabulary; a body's status and title always come
from the one table ``cadml_site.errors.ERROR_CODES``. Anything else is a 500 whose body reveals nothing and whose
traceback is logged with the request id.
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

from cadml_site.errors import DomainError, error_code
from cadml_site.request_context import current_request_id

logger = logging.getLogger("cadml.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cadml.dev/problems/"


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
    body = problem_body(code="database_unavailable", stage=stage, message="The database is unavailable; retry later.",
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
    code: str,
    stage: str,
    message: str,
    context: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status, title = error_code(code)
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


# DRF's exceptions, by class, onto codes of the vocabulary (first match wins; subclasses before their bases).
_DRF_CODES: tuple[tuple[type[drf.APIException], str], ...] = (
    (drf.NotAuthenticated, "not_authenticated"),
    (drf.AuthenticationFailed, "not_authenticated"),
    (drf.PermissionDenied, "permission_denied"),
    (drf.Throttled, "throttled"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotFound, "not_found"),
    (drf.ParseError, "malformed_request"),
    (drf.NotAcceptable, "not_acceptable"),
)
# Any other APIException: the generic code of its status.
_CODE_OF_STATUS = {400: "bad_request", 404: "not_found", 409: "conflict", 413: "payload_too_large",
                   415: "unsupported_media_type", 422: "unprocessable", 503: "service_unavailable"}


def drf_problem_code(exc: drf.APIException) -> str:
    """The vocabulary's code for one of DRF's exceptions (authentication and permission failures name their own)."""
    if isinstance(exc, drf.ValidationError):
        return "validation_failed"
    for cls, code in _DRF_CODES:
        if isinstance(exc, cls):
            return getattr(exc, "problem_code", code)
    return _CODE_OF_STATUS.get(exc.status_code, "internal_error")


def _drf_problem(exc: drf.APIException) -> tuple[dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    code = drf_problem_code(exc)
    if isinstance(exc, drf.ValidationError):
        errors = _field_errors(exc.detail)
        fields = sorted({e["field"] for e in errors})
        body = problem_body(
            code=code, stage="validation",
            message="The request is invalid: " + ", ".join(fields), context={"fields": fields},
            extra={"errors": errors},
        )
        return body, headers
    context: dict[str, Any] = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        context["retry_after_seconds"] = int(exc.wait + 0.999)
    body = problem_body(code=code, stage="request", message=str(exc.detail), context=context)
    return body, headers


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=body["status"], headers=headers or None, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        body = problem_body(code=exc.code, stage=exc.stage, message=exc.message, context=exc.context)
        return problem_response(body, exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        body = problem_body(code="payload_too_large", stage="intake", message="The request body is larger than the server accepts.")
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
    body = problem_body(code="internal_error", stage="server", message="The server failed to handle the request. Quote the request id when reporting it.")
    return problem_response(body)


def plain_problem(code: str, message: str) -> JsonResponse:
    """A problem response outside DRF (handlers, middleware); status and title come from the code."""
    body = problem_body(code=code, stage="request", message=message)
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


def not_found_view(request, exception=None):
    """``handler404``: problem body for API paths, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return plain_problem("not_found", f"No endpoint at {request.path}.")
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
        return plain_problem("internal_error",
                             "The server failed to handle the request. Quote the request id when reporting it.")
    from django.views.defaults import server_error

    return server_error(request)
