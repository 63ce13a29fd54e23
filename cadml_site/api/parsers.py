"""The JSON parser of the API: JSON whose strings the database can store.

JSON lets a string hold ``\\u0000`` and unpaired surrogate escapes (``\\ud800``); Python reads both, Postgres stores
neither (text and jsonb refuse NUL, and an unpaired surrogate is not Unicode text), so such a body used to reach the
database and fail there with a 500. It is refused here, once for every operation, with 422 ``invalid_text``; a body nested deeper than
``CADML_JSON_MAX_DEPTH`` is refused before decoding (400, json_parser.py).
The scan of the parsed body runs only when the raw text contains such an escape (a fast byte search).
"""

from __future__ import annotations

import io
import re

from cadml_site.errors import Unprocessable
from cadml_site.api.json_parser import DepthLimitedJSONParser

_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InvalidText(Unprocessable):
    code, stage = "invalid_text", "request"


def _first_unstorable(value, where: str = "") -> str | None:
    """Path of the first string (value or object key) holding NUL or an unpaired surrogate, else None."""
    if isinstance(value, str):
        return where or "(body)" if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                return f"{where}.{key!r}" if where else repr(key)
            found = _first_unstorable(item, f"{where}.{key}" if where else key)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_unstorable(item, f"{where}[{index}]")
            if found:
                return found
    return None


class JSONTextParser(DepthLimitedJSONParser):
    """The default parser: nesting depth checked first (json_parser.py), then the decoded strings."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        if _SUSPECT_ESCAPE.search(raw):
            where = _first_unstorable(data)
            if where is not None:
                raise InvalidText("strings may not hold NUL characters or unpaired surrogates",
                                  context={"field": where[:200]})
        return data
