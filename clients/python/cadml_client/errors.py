"""Exceptions: every error answer of the API is raised as a :class:`ProblemError` carrying its problem-details
fields (RFC 9457 plus the service's ``code``, ``stage``, ``message``, ``context``, ``timestamp``)."""

from __future__ import annotations

from typing import Any


class CadmlError(Exception):
    """Base class of the client's exceptions."""


class ProblemError(CadmlError):
    """An error answer. ``status`` is the HTTP status; the other attributes come from the problem-details body
    (``code`` is ``http_<status>`` and ``message`` the start of the body when the answer was not one)."""

    def __init__(self, *, status: int, code: str, message: str, stage: str | None = None,
                 context: dict[str, Any] | None = None, timestamp: str | None = None,
                 request_id: str | None = None, type: str | None = None, title: str | None = None,
                 errors: list[dict[str, Any]] | None = None, retry_after: float | None = None,
                 body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.stage = stage
        self.context = context or {}
        self.timestamp = timestamp
        self.request_id = request_id
        self.type = type
        self.title = title
        self.errors = errors or []
        self.retry_after = retry_after
        self.body = body

    @classmethod
    def from_body(cls, status: int, body: Any, *, text: str = "", retry_after: float | None = None,
                  request_id: str | None = None) -> ProblemError:
        if not isinstance(body, dict):
            return cls(status=status, code=f"http_{status}", message=text[:500] or f"HTTP {status}",
                       retry_after=retry_after, request_id=request_id, body=body)
        return cls(status=status, code=str(body.get("code") or f"http_{status}"),
                   message=str(body.get("message") or body.get("detail") or body.get("title") or f"HTTP {status}"),
                   stage=body.get("stage"), context=body.get("context"), timestamp=body.get("timestamp"),
                   request_id=body.get("request_id") or request_id, type=body.get("type"), title=body.get("title"),
                   errors=body.get("errors"), retry_after=retry_after, body=body)

    @property
    def retryable(self) -> bool:
        return self.status in (429, 503)
