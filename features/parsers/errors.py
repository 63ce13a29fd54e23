"""Django-free parse errors. The service layer maps each `kind` onto an HTTP status.

Every error has a stable `code` (used as the API error code and as the `reason` label of the parse
failure metric, so the set is bounded), a `kind` (unsupported | corrupt | too_large), a message and a
JSON-safe `context`.
"""

from __future__ import annotations

from typing import Any

# code -> kind. The complete, bounded set of codes a parse can fail with.
PARSE_ERROR_CODES: dict[str, str] = {
    "unsupported_format": "unsupported",  # recognised but not supported (DWG, PNG, ZIP, ...)
    "unknown_format": "unsupported",  # content matches no supported format
    "file_too_large": "too_large",
    "empty_document": "corrupt",  # no bytes, no triangles, no geometry
    "parse_failed": "corrupt",  # the content is corrupt or truncated
    "parse_timeout": "corrupt",  # the worker exceeded the wall timeout and was killed
    "parse_crashed": "corrupt",  # the worker died (segfault, abort) and was replaced
    "parse_memory_limit": "corrupt",  # the worker hit its address-space limit
    "block_cycle": "corrupt",  # DXF blocks that insert themselves, directly or not
    "block_depth_exceeded": "corrupt",  # DXF block nesting deeper than the limit
    "entity_budget_exceeded": "corrupt",  # DXF inserts expanding beyond the entity budget
    "line_too_long": "corrupt",  # text format with a line beyond the limit
}


class CadParseError(Exception):
    code = "parse_failed"

    def __init__(self, message: str, *, code: str | None = None, context: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if self.code not in PARSE_ERROR_CODES:
            raise ValueError(f"unknown parse error code {self.code!r}")
        self.context = dict(context or {})

    @property
    def kind(self) -> str:
        return PARSE_ERROR_CODES[self.code]

    def to_payload(self) -> dict[str, Any]:
        """Picklable/JSON-safe form used to send the error back from a worker process."""
        return {"code": self.code, "message": self.message, "context": self.context}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "CadParseError":
        return cls(payload["message"], code=payload["code"], context=payload.get("context"))

    def __repr__(self) -> str:
        return f"CadParseError(code={self.code!r}, message={self.message!r})"


def unsupported(message: str, **context: Any) -> CadParseError:
    return CadParseError(message, code="unsupported_format", context=context)


def corrupt(message: str, **context: Any) -> CadParseError:
    return CadParseError(message, code="parse_failed", context=context)


def empty(message: str, **context: Any) -> CadParseError:
    return CadParseError(message, code="empty_document", context=context)
