"""The optional shared (Redis) tier between the in-process cache and the stored features (Django-free).

Entries are JSON ``{"values": [...], "document_id": n}`` under ``<prefix><version>:<sha256>`` with the
cache TTL. Redis is an accelerator, never a dependency: every Redis error is logged, counted, answered as a
miss (or a skipped write), and the tier backs off for a few seconds so a dead server does not add a socket
timeout to every request.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

import redis

logger = logging.getLogger("cadml.cachectl")

SOCKET_TIMEOUT_SECONDS = 0.1
BACKOFF_SECONDS = 5.0
KEY_PREFIX = "cadml:feature-cache:"


def decode_entry(raw: bytes | str | None) -> tuple[tuple[float, ...], int | None] | None:
    """Parse a stored entry; anything malformed is None (treated as a miss)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    values, document_id = data.get("values"), data.get("document_id")
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    if document_id is not None and (isinstance(document_id, bool) or not isinstance(document_id, int)):
        return None
    return tuple(float(v) for v in values), document_id


def encode_entry(values: tuple[float, ...], document_id: int | None) -> str:
    return json.dumps({"values": list(values), "document_id": document_id}, separators=(",", ":"))


class RedisFeatureTier:
    def __init__(self, url: str, *, prefix: str = KEY_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self.last_error = ""

    def key(self, sha256: str, version: str) -> str:
        return f"{self.prefix}{version}:{sha256}"

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception, operation: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = f"{operation}: {type(exc).__name__}: {exc}"
            self._down_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning("Shared feature cache tier (%s) %s failed: %s", self.url.split("@")[-1], operation, exc)

    def get(self, sha256: str, version: str) -> tuple[tuple[float, ...], int | None] | None:
        if not self._available():
            return None
        try:
            raw = self._client.get(self.key(sha256, version))
        except redis.RedisError as exc:
            self._failed(exc, "get")
            return None
        entry = decode_entry(raw)
        with self._lock:
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
        return entry

    def put(self, sha256: str, version: str, values: tuple[float, ...], document_id: int | None, ttl: int) -> bool:
        if not self._available():
            return False
        try:
            self._client.set(self.key(sha256, version), encode_entry(values, document_id), ex=max(1, int(ttl)))
        except redis.RedisError as exc:
            self._failed(exc, "put")
            return False
        return True

    def status(self) -> dict[str, Any]:
        """Pings the server (bounded by the socket timeout) and reports the tier's counters."""
        reachable = True
        try:
            self._client.ping()
        except redis.RedisError as exc:
            reachable = False
            self._failed(exc, "ping")
        with self._lock:
            return {"configured": True, "reachable": reachable, "hits": self.hits, "misses": self.misses,
                    "errors": self.errors, "last_error": self.last_error}

    def close(self) -> None:
        self._client.close()
