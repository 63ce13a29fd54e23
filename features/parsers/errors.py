"""Django-free parse errors, in the service's one error vocabulary (``cadml_site.errors``).

``CadParseError`` is a ``DomainError`` of stage "parse": its ``code`` is a row of ``ERROR_CODES`` (so the
problem-details handler answers the status written there: 415 unsupported, 413 too large, 422 corrupt) and also
the `reason` label of the parse failure metric, so the set of parse codes is bounded (``PARSE_ERROR_CODES``). A
worker process sends its error back over the pipe as ``to_payload()``; the pool rebuilds it with
``from_payload()``.
"""

from __future__ import annotations

from typing import Any

from cadml_site.errors import DomainError, UnknownErrorCode

STAGE = "parse"

# code -> kind. The complete, bounded set of codes a parse can fail with (every one a row of ERROR_CODES, whose
# status follows the kind: unsupported 415, too_large 413, corrupt 422).
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


class CadParseError(DomainError):
    code = "parse_failed"
    stage = STAGE

    def __init__(self, message: str, *, code: str | None = None, context: dict[str, Any] | None = None):
        if (code or self.code) not in PARSE_ERROR_CODES:
            raise UnknownErrorCode(f"{code!r} is not a parse error code (features.parsers.errors.PARSE_ERROR_CODES)")
        super().__init__(message, code=code, context=context)

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
