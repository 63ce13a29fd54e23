"""Writes of the cache app, one module per concern:

* ``entries``: the feature cache contract other apps use (``feature_cache_get`` / ``feature_cache_put``);
* ``settings_row``: the locked settings row, snapshots, the new generation, the audit trail;
* ``settings_changes``: apply new settings, restore a snapshot (each opens a rollback window);
* ``rollback_window``: roll back inside the window, confirm, refuse a change while one is open;
* ``prewarm``: load the prewarm plan here and have every process replay it;
* ``key_activity``: record the holder's flushes of hits and lookups per key, prune old rows;
* ``stats_samples``: sample the hits and lookups of every process each minute, prune old samples.

The names the views, admin, tasks, commands and other apps use are re-exported here.
"""

from cachectl.services.entries import feature_cache_get, feature_cache_put
from cachectl.services.key_activity import cache_key_activity_prune, cache_key_activity_record
from cachectl.services.prewarm import cache_prewarm, cache_prewarm_replay
from cachectl.services.rollback_window import cache_settings_confirm, cache_settings_rollback
from cachectl.services.settings_changes import cache_settings_apply, cache_snapshot_restore
from cachectl.services.stats_samples import cache_stats_sample_take, cache_stats_samples_prune

__all__ = [
    "cache_key_activity_prune",
    "cache_key_activity_record",
    "cache_prewarm",
    "cache_prewarm_replay",
    "cache_settings_apply",
    "cache_settings_confirm",
    "cache_settings_rollback",
    "cache_snapshot_restore",
    "cache_stats_sample_take",
    "cache_stats_samples_prune",
    "feature_cache_get",
    "feature_cache_put",
]
