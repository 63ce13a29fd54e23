"""Input checks shared by the services and the selectors."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from features.extractors import FEATURE_VERSIONS, dimension
from vectors.errors import (
    DimensionMismatch,
    InvalidFilter,
    InvalidKey,
    InvalidMeta,
    InvalidMigration,
    InvalidVector,
    UnknownFeatureVersion,
)
from vectors.index.errors import InvalidVectorError
from vectors.index.vector_math import as_matrix

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,254}$")
RESERVED_KEYS = frozenset({"similarity", "index", "migrate"})
FILTER_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
META_MAX_BYTES = 16 * 1024
MAX_FILTERS = 16


def checked_version(feature_version: str) -> int:
    """Returns the dimension of a known feature version, else raises ``unknown_feature_version``."""
    if feature_version not in FEATURE_VERSIONS:
        raise UnknownFeatureVersion(f"unknown feature version {feature_version!r}",
                                    context={"feature_version": feature_version, "known": list(FEATURE_VERSIONS)})
    return dimension(feature_version)


def checked_versions(from_version: str, to_version: str) -> None:
    """Two known, different feature versions (a migration's source and target)."""
    checked_version(from_version)
    checked_version(to_version)
    if from_version == to_version:
        raise InvalidMigration("from and to must be different feature versions",
                               context={"from": from_version, "to": to_version})


def checked_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY_RE.match(key) or key in RESERVED_KEYS:
        raise InvalidKey("a key is 1-255 characters of letters, digits and ._:@+=- starting with a letter or digit"
                         f" (not {sorted(RESERVED_KEYS)})", context={"key": str(key)[:300]})
    return key


def meta_json(meta: Any) -> str:
    """The meta object as the JSON text that is stored; refuses non-objects, NaN/inf and oversized meta."""
    if meta is None:
        return "{}"
    if not isinstance(meta, dict):
        raise InvalidMeta("meta must be a JSON object")
    try:
        text = json.dumps(meta, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidMeta(f"meta must be plain JSON without NaN or inf: {type(exc).__name__}") from exc
    if len(text) > META_MAX_BYTES:
        raise InvalidMeta(f"meta is {len(text)} bytes, at most {META_MAX_BYTES}", context={"bytes": len(text)})
    return text


def checked_matrix(values: Any, feature_version: str) -> np.ndarray:
    """(n, dimension) float32 matrix of finite values, or ``dimension_mismatch`` / ``invalid_vector``."""
    expected = checked_version(feature_version)
    if isinstance(values, list) and values and isinstance(values[0], (list, tuple)):
        for index, row in enumerate(values):
            if not isinstance(row, (list, tuple)):
                raise InvalidVector(f"vector {index} is not a list of numbers", context={"index": index})
            if len(row) != expected:
                raise DimensionMismatch(f"vector {index}: expected {expected} values, found {len(row)}",
                                        context={"expected": expected, "found": len(row), "index": index,
                                                 "feature_version": feature_version})
    try:
        return as_matrix(values, expected)
    except InvalidVectorError as exc:
        if exc.expected is not None:
            raise DimensionMismatch(str(exc), context={"expected": exc.expected, "found": exc.found,
                                                       "feature_version": feature_version}) from exc
        raise InvalidVector(str(exc), context={"feature_version": feature_version}) from exc


def checked_vector(values: Any, feature_version: str) -> np.ndarray:
    """One query vector: a flat list of ``dimension`` finite numbers."""
    if not isinstance(values, (list, tuple)) or any(isinstance(v, (list, tuple, dict)) for v in values):
        raise InvalidVector("a vector is a flat list of numbers", context={"feature_version": feature_version})
    return checked_matrix(values, feature_version)[0]


def checked_filters(filters: Any) -> dict:
    """Exact-match meta filters: field names are plain identifiers, values are JSON scalars."""
    if filters in (None, {}):
        return {}
    if not isinstance(filters, dict) or len(filters) > MAX_FILTERS:
        raise InvalidFilter(f"filters must be an object of at most {MAX_FILTERS} meta fields")
    for field, value in filters.items():
        if not isinstance(field, str) or not FILTER_FIELD_RE.match(field) or "__" in field:
            raise InvalidFilter(f"filter field {field!r} must be an identifier", context={"field": str(field)[:80]})
        if not (value is None or isinstance(value, (str, int, float, bool))):
            raise InvalidFilter(f"filter {field!r} must match a string, number, boolean or null",
                                context={"field": field})
        if isinstance(value, float) and not np.isfinite(value):
            raise InvalidFilter(f"filter {field!r} must be finite", context={"field": field})
    return filters
