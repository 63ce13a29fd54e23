"""The served feature version as this process last read it (Django-free): read at most once a second per process.

The database row (``vectors.models.ServedVersion``) stays the truth; ``vectors.selectors.served_feature_version``
reads it through this cache.
"""

from __future__ import annotations

import time

# How long this process trusts the served version it read (a switch made by another process shows within it).
SERVED_VERSION_CACHE_SECONDS = 1.0


class ServedVersionCache:
    """The served feature version as this process last read it, trusted for ``ttl_seconds``: the default of every
    request costs no statement within that second. A completed migration switches the version in its publishing
    transaction and forgets this process's copy on commit; other processes see the switch within the TTL, the same
    delay as a revoked credential (``cadml_site.api.authentication.CredentialCache``)."""

    def __init__(self, ttl_seconds: float, clock=time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entry: tuple[str, float] | None = None

    def get(self, load) -> str:
        now = self.clock()
        entry = self._entry
        if entry is not None and now - entry[1] < self.ttl_seconds:
            return entry[0]
        version = load()
        self._entry = (version, now)  # one tuple assignment: a concurrent reader sees the old or the new entry
        return version

    def forget(self) -> None:
        self._entry = None


served_version_cache = ServedVersionCache(SERVED_VERSION_CACHE_SECONDS)
