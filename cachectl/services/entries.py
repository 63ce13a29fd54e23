"""The feature cache contract other apps use (``analysis``/``features`` call get and put): key and entry checks,
the in-process tier first, then the shared Redis tier."""

from __future__ import annotations

import math
import re
from typing import Any

from cachectl.holder import holder
from cachectl.selectors import SHA256_RE
from cadml_site.errors import BadRequest
from cadml_site.metrics import FEATURE_CACHE_HITS_TOTAL, FEATURE_CACHE_MISSES_TOTAL

STAGE = "cache"
VERSION_RE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
MAX_VALUES = 65_536


def _check_key(sha256: Any, version: Any) -> None:
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise BadRequest("A feature cache key needs a lowercase hex sha256.", code="invalid_cache_key",
                         stage=STAGE, context={"sha256": str(sha256)[:80]})
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise BadRequest("A feature cache key needs a feature version name.", code="invalid_cache_key",
                         stage=STAGE, context={"version": str(version)[:80]})


def _entry_dict(entry: tuple) -> dict:
    values, document_id = entry
    return {"values": list(values), "document_id": document_id}


def feature_cache_get(*, sha256: str, version: str) -> dict | None:
    """``{"values", "document_id"}`` from the in-process tier, else the shared tier, else None.

    Counts exactly one hit or one miss (``feature_cache_hits_total`` / ``feature_cache_misses_total``).
    """
    _check_key(sha256, version)
    key = (sha256, version)
    cache = holder.cache()
    entry = cache.get(key)
    if entry is None:
        shared = holder.shared_tier()
        if shared is not None:
            entry = shared.get(sha256, version)
            if entry is not None:
                cache.put(key, entry)
                holder.count_shared_hit()
    if entry is None:
        FEATURE_CACHE_MISSES_TOTAL.inc()
        return None
    FEATURE_CACHE_HITS_TOTAL.inc()
    return _entry_dict(entry)


def clean_entry(values: Any, document_id: Any) -> tuple[tuple[float, ...], int | None]:
    """The cached form of an entry: a tuple of 1 to 65536 finite floats and an optional document id."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise BadRequest("Feature values must be a list of numbers.", code="invalid_cache_entry", stage=STAGE)
    try:
        cleaned = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise BadRequest("Feature values must be numbers.", code="invalid_cache_entry", stage=STAGE) from None
    if not cleaned or len(cleaned) > MAX_VALUES or not all(math.isfinite(v) for v in cleaned):
        raise BadRequest("Feature values must be 1 to 65536 finite numbers.", code="invalid_cache_entry",
                         stage=STAGE, context={"length": len(cleaned)})
    if document_id is not None and (isinstance(document_id, bool) or not isinstance(document_id, int)):
        raise BadRequest("document_id must be an integer or None.", code="invalid_cache_entry", stage=STAGE)
    return cleaned, document_id


def feature_cache_put(*, sha256: str, version: str, values, document_id: int | None) -> None:
    """Stores an entry in the in-process tier and, when configured, the shared tier."""
    _check_key(sha256, version)
    entry = clean_entry(values, document_id)
    cache = holder.cache()
    cache.put((sha256, version), entry)
    shared = holder.shared_tier()
    if shared is not None:
        shared.put(sha256, version, entry[0], entry[1], ttl=int(cache.ttl_seconds))
