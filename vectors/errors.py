"""The vectors app's domain errors (rendered as problem+json by the site's exception handler)."""

from cadml_site.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable


class DimensionMismatch(Unprocessable):
    code, stage = "dimension_mismatch", "validation"


class InvalidVector(Unprocessable):
    code, stage = "invalid_vector", "validation"


class InvalidKey(Unprocessable):
    code, stage = "invalid_key", "validation"


class InvalidMeta(Unprocessable):
    code, stage = "invalid_meta", "validation"


class DuplicateKey(Unprocessable):
    code, stage = "duplicate_key", "validation"


class UnknownFeatureVersion(Unprocessable):
    code, stage = "unknown_feature_version", "validation"


class InvalidFilter(BadRequest):
    code, stage = "invalid_filter", "validation"


class InvalidQuery(BadRequest):
    code, stage = "invalid_query", "validation"


class MatchNeedsV5(Unprocessable):
    """A well-formed request whose `match` (duplicate, shape) or `mirror` (distinct) the feature version cannot
    answer: only v5 knows match kinds and handedness. 422, not 400: each field is valid alone (the schema cannot tie one field's value to another's)."""

    code, stage = "match_needs_v5", "validation"


class VectorNotFound(NotFound):
    code, stage = "vector_not_found", "lookup"


class GenerationNotReached(Conflict):
    code, stage = "generation_not_reached", "search"


class RebuildInProgress(Conflict):
    code, stage = "rebuild_in_progress", "index"


class IndexRebuildFailed(ServiceUnavailable):
    code, stage = "index_rebuild_failed", "index"


class MigrationConflict(Conflict):
    code, stage = "migration_conflict", "migration"


class MigrationNotFound(NotFound):
    code, stage = "migration_not_found", "migration"


class InvalidMigration(Unprocessable):
    code, stage = "invalid_migration", "migration"
