"""Vector writes: every write bumps the feature version's generation in the same transaction (on Postgres, a write of
up to ``POSTGRES_STATEMENT_ROWS`` rows is a single statement: its own transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from cadml_site.prepared_statements import statement_cursor
from cadml_site.statement_parts import StatementPart, joined_statement
from vectors.errors import DuplicateKey, VectorNotFound
from vectors.models import IndexState, Vector, VectorDeletion, VectorOpsAudit
from vectors.validation import checked_key, checked_matrix, checked_version, meta_json

BULK_BATCH = 2000


@dataclass(frozen=True)
class VectorWrite:
    key: str
    feature_version: str
    generation: int
    created: bool


@dataclass(frozen=True)
class BulkWrite:
    feature_version: str
    generation: int
    created: int
    updated: int


def next_generation(feature_version: str) -> int:
    """Bumps and returns the version's generation; call inside ``transaction.atomic``.

    The UPDATE takes the row's write lock (Postgres) or the database write lock (SQLite) until commit, so writers
    of one version commit in generation order and a reader never sees generation g before the rows of g.
    """
    table = connection.ops.quote_name(IndexState._meta.db_table)
    with connection.cursor() as cursor:  # one statement: the ORM's update() cannot return the new value
        cursor.execute(f"UPDATE {table} SET generation = generation + 1 WHERE feature_version = %s "
                       "RETURNING generation", [feature_version])
        bumped = cursor.fetchone()
    if bumped is not None:
        return bumped[0]
    try:  # the version's first write
        with transaction.atomic():
            IndexState.objects.create(feature_version=feature_version, generation=1)
        return 1
    except IntegrityError:  # created concurrently
        IndexState.objects.filter(feature_version=feature_version).update(generation=F("generation") + 1)
    return IndexState.objects.filter(feature_version=feature_version).values_list("generation", flat=True).get()


_UPSERT_COLUMNS = ("key", "feature_version", "dimension", "values", "meta", "generation", "created_generation",
                   "created_at", "updated_at")
_UPSERT_UPDATES = ("values", "dimension", "meta", "generation", "updated_at")


# Rows in one Postgres upsert statement: the batch of a large write, and the most a write makes in one statement.
POSTGRES_STATEMENT_ROWS = BULK_BATCH * 5


def _upsert_sql_parts() -> tuple[str, str, str]:
    """(table, column list, ON CONFLICT clause) of the vector upsert."""
    quote = connection.ops.quote_name
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in _UPSERT_UPDATES)
    return (quote(Vector._meta.db_table), ", ".join(quote(c) for c in _UPSERT_COLUMNS),
            "ON CONFLICT (feature_version, key) DO UPDATE SET " + updates)


def _inserted() -> str:
    """The upsert's RETURNING expression that says whether a row was inserted: an inserted row's
    ``created_generation`` is the write's generation, and a replaced row keeps its own, from an earlier write (every
    write bumps the generation, and a write never names a key twice). The same on Postgres and SQLite."""
    quote = connection.ops.quote_name
    return f"({quote('created_generation')} = {quote('generation')})"


def _postgres_upsert_sql(*, generation: str, sources: str, returning: str) -> str:
    """Postgres's ``INSERT ... SELECT FROM unnest(keys, blobs, metas) ON CONFLICT DO UPDATE ... RETURNING``;
    parameters: feature_version, dimension, created_at, updated_at, keys, blobs, metas (and those of `generation`,
    an SQL expression written twice, and of `sources`, relations joined before unnest's)."""
    table, columns, conflict = _upsert_sql_parts()
    return (f"INSERT INTO {table} ({columns}) SELECT t.k, %s, %s, t.v, t.m::jsonb, {generation}, {generation}, %s, %s "
            f"FROM {sources}unnest(%s::text[], %s::bytea[], %s::text[]) AS t(k, v, m) {conflict} RETURNING {returning}")


# SQLite: rows per upsert statement (9 parameters each; SQLite >= 3.32 takes 32,766 parameters)
SQLITE_STATEMENT_ROWS = 2000


def upsert_rows(*, feature_version: str, dimension: int, generation: int, keys: list[str], blobs: list[bytes],
                metas_json: list[str]) -> int:
    """Inserts or replaces vector rows in a few statements (the ORM's bulk_create costs ~0.3 ms per row) and returns
    how many were inserted (the rest replaced an existing row), as the upsert's RETURNING says (`_inserted`).

    Postgres: one ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE ... RETURNING`` per batch; SQLite
    (in process, no round trip): one multi-row ``INSERT ... VALUES ... ON CONFLICT DO UPDATE ... RETURNING`` per
    batch. A replaced row keeps its id, ``created_generation`` and ``created_at``.
    """
    now = timezone.now()
    created = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = _postgres_upsert_sql(generation="%s", sources="", returning=_inserted())
            for start in range(0, len(keys), POSTGRES_STATEMENT_ROWS):
                end = start + POSTGRES_STATEMENT_ROWS
                cursor.execute(sql, [feature_version, dimension, generation, generation, now, now,
                                     keys[start:end], blobs[start:end], metas_json[start:end]])
                created += sum(1 for (inserted,) in cursor.fetchall() if inserted)
        else:
            table, columns, conflict = _upsert_sql_parts()
            stamp = connection.ops.adapt_datetimefield_value(now)
            row = f"({', '.join(['%s'] * 9)})"
            for start in range(0, len(keys), SQLITE_STATEMENT_ROWS):
                end = start + SQLITE_STATEMENT_ROWS
                params = [value for key, blob, meta in zip(keys[start:end], blobs[start:end], metas_json[start:end])
                          for value in (key, feature_version, dimension, blob, meta, generation, generation, stamp,
                                        stamp)]
                cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * (len(params) // 9))} "
                               f"{conflict} RETURNING {_inserted()}", params)
                created += sum(1 for (inserted,) in cursor.fetchall() if inserted)
    return created


@dataclass(frozen=True)
class CheckedWrite:
    """A write's rows, validated and encoded (`vector_write_check`): what its statements take."""

    feature_version: str
    dimension: int
    keys: list[str]
    blobs: list[bytes]
    metas_json: list[str]


def _checked(feature_version: str, items: list[dict[str, Any]]) -> CheckedWrite:
    """Validates and encodes ``items`` ({key, values, meta}); a DomainError (400/422) for a bad one."""
    dim = checked_version(feature_version)
    keys = [checked_key(item.get("key")) for item in items]
    if len(set(keys)) != len(keys):
        seen, dup = set(), None
        for key in keys:
            if key in seen:
                dup = key
                break
            seen.add(key)
        raise DuplicateKey(f"key {dup!r} appears more than once in the request", context={"key": dup})
    matrix = checked_matrix([item.get("values") for item in items], feature_version)
    metas_json = [meta_json(item.get("meta")) for item in items]
    blobs = [row.tobytes() for row in matrix.astype("<f4", copy=False)]
    return CheckedWrite(feature_version=feature_version, dimension=dim, keys=keys, blobs=blobs, metas_json=metas_json)


def vector_write_check(*, key: str, feature_version: str, values, meta: dict | None = None) -> CheckedWrite:
    """One vector's write, validated (a DomainError for a bad key, version or values) before any statement runs: for
    `vector_write_parts` in another app's statement, or `vector_write_checked`."""
    return _checked(feature_version, [{"key": key, "values": values, "meta": meta}])


def vector_write_parts(checked: CheckedWrite, *, after: str | None = None) -> list[StatementPart]:
    """Postgres: the generation bump and the upsert as two parts of one statement (`cadml_site.statement_parts`):
    ``bumped`` (the version's new generation) and ``written`` (one row per vector: ``created``, whether it was
    inserted, and ``generation``). With `after`, the name of an earlier part, both write only when that part returned
    a row. The UPDATE holds the version row's lock until the statement commits, as ``next_generation`` does until its
    transaction commits: writers of a version still commit in generation order. Neither writes when the version has
    no row yet (its first write, which the transactional path, `vector_write_checked`, creates)."""
    state = connection.ops.quote_name(IndexState._meta.db_table)
    joined = f" FROM {after}" if after else ""
    bumped = StatementPart(
        name="bumped",
        sql=(f"UPDATE {state} SET generation = {state}.generation + 1{joined} WHERE {state}.feature_version = %s "
             f"RETURNING {state}.generation"),
        params=[checked.feature_version])
    now = timezone.now()
    written = StatementPart(
        name="written",
        sql=_postgres_upsert_sql(generation="bumped.generation", sources="bumped, ",
                                 returning=f"{_inserted()} AS created, generation"),
        params=[checked.feature_version, checked.dimension, now, now, checked.keys, checked.blobs,
                checked.metas_json])
    return [bumped, written]


def _write_in_one_statement(checked: CheckedWrite) -> tuple[int, int, int] | None:
    """Postgres: the generation bump and the upsert in one statement (`vector_write_parts`), so one round trip and
    its own transaction, where a transaction would add BEGIN and COMMIT round trips. None when the version has no
    row yet (its first write); the statement then changed nothing."""
    sql, params = joined_statement(vector_write_parts(checked), "SELECT created, generation FROM written")
    with statement_cursor() as cursor:  # prepared once per connection
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    created = sum(1 for inserted, _ in rows if inserted)
    return rows[0][1], created, len(checked.keys) - created


def _write(checked: CheckedWrite) -> tuple[int, int, int]:
    """Upserts a checked write; returns (generation, created, updated)."""
    keys = checked.keys
    if connection.vendor == "postgresql" and len(keys) <= POSTGRES_STATEMENT_ROWS:
        written = _write_in_one_statement(checked)
        if written is not None:
            return written
    with transaction.atomic():
        generation = next_generation(checked.feature_version)
        created = upsert_rows(feature_version=checked.feature_version, dimension=checked.dimension,
                              generation=generation, keys=keys, blobs=checked.blobs, metas_json=checked.metas_json)
    return generation, created, len(keys) - created


def vector_write_checked(checked: CheckedWrite) -> VectorWrite:
    """Registers or replaces the one vector of `vector_write_check`; the returned generation can be passed to a
    search (read-your-writes)."""
    generation, created, _ = _write(checked)
    return VectorWrite(key=checked.keys[0], feature_version=checked.feature_version, generation=generation,
                       created=bool(created))


def vector_upsert(*, key: str, feature_version: str, values, meta: dict | None = None) -> VectorWrite:
    """Registers or replaces one vector; the returned generation can be passed to a search (read-your-writes)."""
    return vector_write_checked(vector_write_check(key=key, feature_version=feature_version, values=values, meta=meta))


def vector_bulk_upsert(*, feature_version: str, items: list[dict[str, Any]]) -> BulkWrite:
    """Registers or replaces many vectors under one generation, all or nothing."""
    generation, created, updated = _write(_checked(feature_version, items))
    return BulkWrite(feature_version=feature_version, generation=generation, created=created, updated=updated)


def vector_delete(*, key: str, feature_version: str, actor: str, request_id: str = "", reason: str = "") -> int:
    """Deletes a vector (logged for the other processes and audited); returns the new generation."""
    checked_version(feature_version)
    with transaction.atomic():
        row = Vector.objects.filter(feature_version=feature_version, key=key).first()
        if row is None:
            raise VectorNotFound(f"no vector {key!r} in {feature_version}",
                                 context={"key": key, "feature_version": feature_version})
        generation = next_generation(feature_version)
        VectorDeletion.objects.create(feature_version=feature_version, vector_id=row.pk, key=key,
                                      generation=generation)
        before = {"key": key, "feature_version": feature_version, "meta": row.meta, "generation": row.generation}
        row.delete()
        VectorOpsAudit.objects.create(actor=actor, request_id=request_id, action="vector_delete", reason=reason,
                                      feature_version=feature_version, before=before,
                                      after={"generation": generation})
    return generation


def vector_deletion_log_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Deletes the change-log rows no process can need any more; returns the count per feature version.

    A process catches up on deletions newer than its generation, or newer than the snapshot it loads. The rebuild
    that records a snapshot generation also bumps the epoch, so every process then reloads from that snapshot (or
    from the rows, degraded) and holds at least that generation; a snapshot file older than the recorded one is
    never caught up from (``vectors.index.holder``). Rows at or below the recorded snapshot generation are
    therefore dead; they are kept ``CADML_VECTOR_DELETION_RETENTION_DAYS`` more as a record of what was deleted.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.CADML_VECTOR_DELETION_RETENTION_DAYS)
    pruned: dict[str, int] = {}
    for feature_version, snapshot_generation in (IndexState.objects.exclude(snapshot_generation=None)
                                                 .values_list("feature_version", "snapshot_generation")):
        count, _ = VectorDeletion.objects.filter(feature_version=feature_version, generation__lte=snapshot_generation,
                                                 created_at__lt=cutoff).delete()
        if count:
            pruned[feature_version] = count
    return pruned
