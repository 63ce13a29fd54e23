"""The database side of the cache holder's ``CacheSource`` protocol (bound in ``CachectlConfig.ready()``)."""

from __future__ import annotations

import logging
from collections.abc import Hashable

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.transaction import TransactionManagementError

from cachectl import selectors
from cachectl.holder import CacheSettingsState, SettingsUnreadable
from cachectl.services.key_activity import cache_key_activity_record
from cachectl.services.prewarm import cache_prewarm_replay

logger = logging.getLogger("cadml.cachectl")

_DATABASE_ERRORS = (DatabaseError, TransactionManagementError)


class DatabaseCacheSource:
    """Reads the settings row, stores key activity and replays prewarm runs; database errors never escape."""

    def settings_state(self) -> CacheSettingsState:
        try:
            return selectors.cache_settings_state()
        except _DATABASE_ERRORS as exc:
            raise SettingsUnreadable(f"{type(exc).__name__}: {exc}") from exc

    def default_settings(self) -> CacheSettingsState:
        return CacheSettingsState(**selectors.cache_settings_defaults(), generation=0, prewarm_generation=0)

    def shared_tier_url(self) -> str | None:
        return settings.CADML_CACHE_REDIS_URL

    def may_flush_activity(self) -> bool:
        return not connection.in_atomic_block

    def record_activity(self, activity: dict[Hashable, tuple[int, int]]) -> int:
        try:
            return cache_key_activity_record(activity=activity)
        except _DATABASE_ERRORS as exc:
            logger.warning("Cache key activity could not be recorded: %s", exc)
            return 0

    def replay_prewarm(self, generation: int) -> None:
        cache_prewarm_replay(generation=generation)

    def end_thread(self) -> None:
        connections.close_all()  # the calling thread's connections only
