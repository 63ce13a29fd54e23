"""Writes of the vectors app. ``vector_upsert`` is the cross-app entry point used by ``features``."""

from vectors.services.index_ops import (
    index_degrade_drill,
    index_mark_degraded,
    index_rebuild,
    index_recover,
    index_recovery_tick,
)
from vectors.services.migration import (
    vector_migration_run,
    vector_migration_start,
    vector_migrations_resume_abandoned,
)
from vectors.services.served_version import served_version_record
from vectors.services.vector_writes import (
    vector_bulk_upsert,
    vector_delete,
    vector_deletion_log_prune,
    vector_upsert,
    vector_write_check,
    vector_write_checked,
    vector_write_parts,
)

__all__ = [
    "index_degrade_drill",
    "index_mark_degraded",
    "index_rebuild",
    "index_recover",
    "index_recovery_tick",
    "served_version_record",
    "vector_bulk_upsert",
    "vector_delete",
    "vector_deletion_log_prune",
    "vector_migration_run",
    "vector_migration_start",
    "vector_migrations_resume_abandoned",
    "vector_upsert",
    "vector_write_check",
    "vector_write_checked",
    "vector_write_parts",
]
