"""The default JSON parser: DRF's, with a nesting-depth limit checked before decoding.

Python's decoder recurses once per nesting level, so a body such as ``{"meta": {"a": {"a": ...}}}`` 1,000 levels
deep raises ``RecursionError`` inside ``json.loads`` (a 500 with a traceback). The depth is measured first, by a
linear scan that skips string literals, and a body deeper than ``CADML_JSON_MAX_DEPTH`` is a 400
``validation_failed`` naming the limit; the decoder never sees it.
"""

from __future__ import annotations

import re
from itertools import accumulate

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

from cadml_site.errors import BadRequest

# A JSON string literal (unrolled loop: linear, no backtracking): brackets inside strings do not nest.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonTooDeep(BadRequest):
    code, stage = "validation_failed", "validation"


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (0 for a scalar); brackets in strings don't count."""
    brackets = _BRACKET.findall(_STRING.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def checked_json_depth(text: str, max_depth: int) -> None:
    depth = json_depth(text)
    if depth > max_depth:
        raise JsonTooDeep(f"The JSON body is nested {depth} levels deep; the limit is {max_depth} "
                          "(CADML_JSON_MAX_DEPTH).", context={"max_depth": max_depth, "depth": depth})


class DepthLimitedJSONParser(JSONParser):
    """``application/json`` bodies: depth checked against ``CADML_JSON_MAX_DEPTH``, then DRF's decoding."""

    strict = api_settings.STRICT_JSON

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding}: {exc}") from exc
        checked_json_depth(text, settings.CADML_JSON_MAX_DEPTH)
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
