"""Reads: similarity search, listing, index status, migration preview."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from cadml_site import metrics
from cadml_site.prepared_statements import statement_cursor
from features.extractors.v5_match import MATCH_MODES, MIRROR_MODES, candidate_count, v5_matches
from features.selectors import cad_file_handedness
from vectors.errors import GenerationNotReached, InvalidQuery, MatchNeedsV5, VectorNotFound
from vectors.index.holder import GenerationNotReachedError, SearchOutcome, SourceState
from vectors.index.recovery_policy import seconds_until_next_attempt, suppression_left
from vectors.models import IndexEvent, IndexState, MigrationRun, ServedVersion, Vector
from vectors.recovery_state import policy_state
from vectors.runtime import index_holder
from vectors.served_version_cache import served_version_cache
from vectors.validation import checked_filters, checked_vector, checked_version, checked_versions

EVENTS_SHOWN = 20
# last_referenced_at is refreshed at most this often per vector: a hot result costs no write (and no fsync).
REFERENCE_RESOLUTION = timedelta(seconds=60)
# ... and written at most this often per process: the searches in between only add ids to a buffer.
REFERENCE_FLUSH_SECONDS = 1.0
# A search reads the rows of at most this many hits in the statement that checks the index state (one round trip).
ROWS_WITH_STATE_MAX = 1000
logger = logging.getLogger("cadml.vectors")


def _served_version_load() -> str:
    row = ServedVersion.objects.filter(singleton=1).values_list("feature_version", flat=True).first()
    if row:
        return row
    from vectors.services import served_version_record

    return served_version_record()


def served_feature_version() -> str:
    """The served feature version, the default of every app (cross-app entry point). Recorded in the database the
    first time it is needed (``vectors.services.served_version_record``), switched only by a completed migration;
    read at most once a second per process (``served_version_cache``)."""
    return served_version_cache.get(_served_version_load)


def served_version_status() -> dict[str, Any]:
    """``{"feature_version", "previous_version", "since"}`` of the served version (for health and status)."""
    def read():  # the row itself, not the cached version: the three fields of one moment
        return ServedVersion.objects.filter(singleton=1).values_list(
            "feature_version", "previous_version", "updated_at").first()

    row = read()
    if row is None:
        _served_version_load()  # records it (the cached version may predate a database without the row)
        row = read()
    version, previous, since = row
    return {"feature_version": version, "previous_version": previous or None, "since": since}


def vector_get(*, key: str, feature_version: str) -> Vector:
    checked_version(feature_version)
    row = Vector.objects.filter(feature_version=feature_version, key=key).first()
    if row is None:
        raise VectorNotFound(f"no vector {key!r} in {feature_version}",
                             context={"key": key, "feature_version": feature_version})
    return row


def vector_list(*, feature_version: str, filters: dict | None = None) -> QuerySet[Vector]:
    """Vectors of a version matching exact meta filters, ordered by key.

    A filter name is a meta key, never an ORM lookup: each one is an explicit ``KeyTransform`` compared with
    ``exact``, so ``{"in": 1}`` or ``{"regex": "b.*"}`` match the keys named ``in`` and ``regex`` literally
    (``meta__in=1`` would have run the ``in`` lookup on the whole meta object).
    """
    checked_version(feature_version)
    keys = {f"_meta_filter_{i}": (KeyTransform(field, "meta"), value)
            for i, (field, value) in enumerate(checked_filters(filters).items())}
    return (Vector.objects.filter(feature_version=feature_version)
            .alias(**{alias: transform for alias, (transform, _) in keys.items()})
            .filter(**{f"{alias}__exact": value for alias, (_, value) in keys.items()})
            .order_by("key", "id"))


def labelled_vectors(*, feature_version: str, label_field: str = "part_type") -> tuple[list[np.ndarray], list[str]]:
    """Vectors of a version whose meta carries a non-empty string label, with those labels (for training)."""
    checked_version(feature_version)
    rows, labels = [], []
    queryset = (Vector.objects.filter(feature_version=feature_version).order_by("id")
                .values_list("values", "meta"))
    for values, meta in queryset:
        label = (meta or {}).get(label_field)
        if isinstance(label, str) and label:
            rows.append(np.frombuffer(bytes(values), dtype="<f4"))
            labels.append(label)
    return rows, labels


def recently_referenced_keys(*, limit: int) -> list[tuple[str, str]]:
    """``(key, feature_version)`` of vectors last used as a similarity query or result, most recent first."""
    rows = (Vector.objects.filter(last_referenced_at__isnull=False)
            .order_by("-last_referenced_at", "id").values_list("key", "feature_version"))
    return list(rows[:limit])


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.CADML_SIMILARITY_MAX_K:
        raise InvalidQuery(f"k must be an integer from 1 to {settings.CADML_SIMILARITY_MAX_K}", context={"k": k})
    return k


def _content_of(meta: Any) -> str | None:
    value = meta.get("cad_file") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value else None


def _queries(feature_version: str, queries: Sequence[dict]) -> tuple[np.ndarray, list[int | None], list[str | None]]:
    """Query matrix and, per query, the id of the key it names (excluded from its own results) and the content
    sha256 it comes from (the key's ``meta["cad_file"]``, or the query's ``cad_file``), for ``exact`` matches."""
    keys = [q.get("key") for q in queries]
    by_key = {}
    named = [key for key in keys if isinstance(key, str)]
    if named:
        rows = Vector.objects.filter(feature_version=feature_version, key__in=named).values_list("key", "id",
                                                                                                "values", "meta")
        by_key = {key: (pk, np.frombuffer(bytes(values), dtype="<f4"), meta) for key, pk, values, meta in rows}
    vectors, own_ids, contents = [], [], []
    for query, key in zip(queries, keys):
        if (key is None) == (query.get("vector") is None):
            raise InvalidQuery("each query gives exactly one of vector or key")
        if key is not None and (not isinstance(key, str) or len(key) > 255):
            raise InvalidQuery("a query key is a string of at most 255 characters")
        if key is not None:
            if key not in by_key:
                raise VectorNotFound(f"no vector {key!r} in {feature_version}",
                                     context={"key": key, "feature_version": feature_version})
            own_ids.append(by_key[key][0])
            vectors.append(by_key[key][1])
            contents.append(_content_of(by_key[key][2]))
        else:
            own_ids.append(None)
            vectors.append(checked_vector(query["vector"], feature_version))
            contents.append(query.get("cad_file") if isinstance(query.get("cad_file"), str) else None)
    return np.vstack(vectors).astype(np.float32), own_ids, contents


class ReferenceBuffer:
    """Per process: vector ids referenced since the last write, and when each id was last written from here.

    A search after a quiet second writes at once (leading edge); the searches within the next second only buffer
    their ids, and the first search after that second writes them all in one UPDATE. Ids this process wrote within
    ``REFERENCE_RESOLUTION`` are not buffered again. Bookkeeping for cache prewarm only: ids buffered when a
    process exits are lost, which costs a prewarm hint, never an answer.
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.pending: set[int] = set()
        self.written: dict[int, float] = {}
        self.flushed_at = -float("inf")

    def due(self, ids: set[int]) -> set[int] | None:
        """Adds ``ids``; returns every buffered id when a write is due now (and forgets them), else None."""
        now = self.clock()
        resolution = REFERENCE_RESOLUTION.total_seconds()
        with self.lock:
            self.pending |= {i for i in ids if now - self.written.get(i, -resolution) >= resolution}
            if not self.pending or now - self.flushed_at < REFERENCE_FLUSH_SECONDS:
                return None
            if len(self.written) > 100_000:
                self.written = {i: t for i, t in self.written.items() if now - t < resolution}
            batch, self.pending, self.flushed_at = self.pending, set(), now
            self.written.update(dict.fromkeys(batch, now))
            return batch


reference_buffer = ReferenceBuffer()


def _mark_referenced(ids: set[int]) -> None:
    """Bookkeeping for cache prewarm: at most one UPDATE a second per process, of the rows it found stale.

    Runs in autocommit (one round trip) unless the caller is inside a transaction, where a savepoint keeps a lock
    timeout from spoiling the caller's work; a failure is logged, never raised: a search is worth more than this.
    """
    batch = reference_buffer.due(ids)
    if not batch:
        return
    now = timezone.now()
    stale = (Vector.objects.filter(id__in=batch)
             .filter(Q(last_referenced_at__isnull=True) | Q(last_referenced_at__lt=now - REFERENCE_RESOLUTION)))
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                stale.update(last_referenced_at=now)
        else:
            stale.update(last_referenced_at=now)
    except OperationalError as exc:
        logger.warning("last_referenced_at not updated: %s", exc)


# (option, its modes, its default, why another value needs v5): only v5 knows match kinds and handedness
_V5_OPTIONS = (
    ("match", MATCH_MODES, "any", "match kinds (duplicate, shape) need feature version v5"),
    ("mirror", MIRROR_MODES, "same", "mirror=distinct needs feature version v5"),
)


def similarity_options_check(*, feature_version: str, match: str = "any", mirror: str = "same") -> None:
    """400 for an unknown `match`/`mirror`; 422 `match_needs_v5` for a v5-only value asked of another version."""
    for (name, modes, default, needs_v5), value in zip(_V5_OPTIONS, (match, mirror)):
        if value not in modes:
            raise InvalidQuery(f"{name} must be one of {', '.join(modes)}", context={name: str(value)[:20]})
        if value != default and feature_version != "v5":
            raise MatchNeedsV5(needs_v5, context={name: value, "feature_version": feature_version})


def _v5_results(query: np.ndarray, content: str | None, candidates: list[tuple[int, float]], rows: dict, *,
                k: int, min_score: float | None, match: str, mirror: str = "same",
                handedness: dict[str, int] | None = None) -> list[tuple[int, dict]]:
    """Re-rank v5 candidates by the v5 distance, label their match kinds, keep the ``k`` best that ``match``
    accepts (and that reach ``min_score``); ``mirror="distinct"`` tells mirror images apart by handedness."""
    if not candidates:
        return []
    ids = [pk for pk, _ in candidates]
    vectors = np.vstack([rows[pk][2] for pk in ids])
    same = [content is not None and _content_of(rows[pk][1]) == content for pk in ids]
    handedness = handedness or {}
    hands = [handedness.get(_content_of(rows[pk][1]), 0) for pk in ids]
    results = []
    for found in v5_matches(query, vectors, same_content=same, mode=match, mirror=mirror,
                            query_handedness=handedness.get(content, 0), handedness=hands):
        if len(results) == k or (min_score is not None and found.score < min_score):
            break
        key, meta, _ = rows[ids[found.index]]
        results.append((ids[found.index], {
            "key": key, "score": found.score, "meta": meta, "match": found.kind, "scale_factor": found.scale_factor,
            "unit_mismatch_suspected": found.unit_mismatch_suspected, "shape_distance": found.shape_distance}))
    return results


def _hit_ids(outcome: SearchOutcome) -> list[int]:
    return sorted({int(i) for hits in outcome.hits for i in hits.ids})


def _searched_with_rows(feature_version: str, matrix: np.ndarray, k: int, *, allowed_ids: np.ndarray | None,
                        min_generation: int | None, with_values: bool) -> tuple[SearchOutcome, dict]:
    """The holder's hits and ``{id: (key, meta, values or None)}`` of their rows, in one round trip when it can.

    The holder first searches the version it holds; one statement then reads the index state and the hits' rows
    together. When that state shows the version current (no write, reload or restore since), the answer is the one
    ``IndexHolder.search`` would have given after its own state check, and the rows are of the same moment. Otherwise
    (after a write, on the first search, with ``min_generation`` ahead) the holder converges from the state that
    statement read (the changed rows, the replaced ids and the deletions) and the rows are read again: five
    statements, one fewer than the search after a write took before. A batch with more than
    ``ROWS_WITH_STATE_MAX`` hits reads its rows in a statement of their own.
    """
    holder = index_holder()
    loaded = holder.search_as_loaded(feature_version, matrix, k, allowed_ids=allowed_ids)
    known = None
    if loaded is not None:
        ids = _hit_ids(loaded.outcome)
        folded = len(ids) <= ROWS_WITH_STATE_MAX
        state, rows = _index_state_and_rows(feature_version, ids if folded else [], with_values=with_values)
        if state is not None and loaded.current_for(state, min_generation=min_generation):
            return loaded.outcome, rows if folded else _rows_of(ids, with_values=with_values)
        known = (state, loaded) if state is not None else None
    try:
        outcome = holder.search(feature_version, matrix, k, allowed_ids=allowed_ids, min_generation=min_generation,
                                known=known)
    except GenerationNotReachedError as exc:
        raise GenerationNotReached(str(exc), context={"requested": exc.requested, "current": exc.current}) from exc
    return outcome, _rows_of(_hit_ids(outcome), with_values=with_values)


def _rows_of(ids: list[int], *, with_values: bool) -> dict:
    rows = {}
    if ids:
        fields = ("id", "key", "meta", "values") if with_values else ("id", "key", "meta")
        for row in Vector.objects.filter(id__in=ids).values_list(*fields):
            rows[row[0]] = (row[1], row[2], np.frombuffer(bytes(row[3]), dtype="<f4") if with_values else None)
    return rows


def _index_state_and_rows(feature_version: str, ids: list[int], *,
                          with_values: bool) -> tuple[SourceState | None, dict]:
    """One statement: the version's index state (None when it has no row yet) and the rows of ``ids``."""
    quote = connection.ops.quote_name
    vector_columns = ["id", "key", "meta"] + (["values"] if with_values else [])
    state_columns = ["generation", "epoch", "degraded", "snapshot_generation", "incarnation"]
    columns = ([f"s.{quote(IndexState._meta.get_field(name).column)}" for name in state_columns]
               + [f"v.{quote(Vector._meta.get_field(name).column)}" for name in vector_columns])
    on = f"v.{quote(Vector._meta.get_field('id').column)} IN ({', '.join(['%s'] * len(ids)) or 'NULL'})"
    sql = (f"SELECT {', '.join(columns)} FROM {quote(IndexState._meta.db_table)} s "
           f"LEFT JOIN {quote(Vector._meta.db_table)} v ON {on} "
           f"WHERE s.{quote(IndexState._meta.get_field('feature_version').column)} = %s")
    with statement_cursor() as cursor:  # prepared once per connection (Postgres)
        cursor.execute(sql, [*ids, feature_version])
        fetched = cursor.fetchall()
    if not fetched:
        return None, {}
    meta_field = Vector._meta.get_field("meta")
    rows = {}
    for row in fetched:
        pk = row[5]
        if pk is not None:
            values = np.frombuffer(bytes(row[8]), dtype="<f4") if with_values else None
            rows[pk] = (row[6], meta_field.from_db_value(row[7], None, connection), values)
    return SourceState(*fetched[0][:5]), rows


def _search(feature_version: str, queries: Sequence[dict], *, k: int, min_score: float | None,
            filters: dict | None, min_generation: int | None, exclude_keys: Sequence[str], match: str = "any",
            mirror: str = "same") -> dict:
    checked_version(feature_version)
    _check_k(k)
    if min_score is not None and not (isinstance(min_score, (int, float)) and -1.0 <= min_score <= 1.0):
        raise InvalidQuery("min_score must be a number from -1 to 1", context={"min_score": min_score})
    similarity_options_check(feature_version=feature_version, match=match, mirror=mirror)
    filters = checked_filters(filters)
    matrix, own_ids, contents = _queries(feature_version, queries)
    v5 = feature_version == "v5"
    allowed = None
    if filters:
        allowed = np.fromiter(vector_list(feature_version=feature_version, filters=filters)
                              .order_by().values_list("id", flat=True), dtype=np.int64)
    excluded: set[int] = set()
    if exclude_keys:
        excluded = set(Vector.objects.filter(feature_version=feature_version, key__in=list(exclude_keys))
                       .values_list("id", flat=True))
    # each key query leaves out its own key (not the other queries' keys): fetch enough to drop them per query
    extra = len(excluded) + (1 if any(own is not None for own in own_ids) else 0)
    wanted = candidate_count(k) if v5 else k
    outcome, rows = _searched_with_rows(feature_version, matrix, wanted + extra, allowed_ids=allowed,
                                        min_generation=min_generation, with_values=v5)
    result_lists = []
    served: set[int] = set()
    handedness = None
    if v5 and mirror == "distinct":  # from the stored descriptors of the files the query and results come from
        handedness = cad_file_handedness(sha256s={*contents, *(_content_of(row[1]) for row in rows.values())})
        handedness.update({content: query["handedness"] for query, content in zip(queries, contents)
                           if content and query.get("handedness") is not None})  # a file not stored yet
    for hits, own_id, query, content in zip(outcome.hits, own_ids, matrix, contents):
        skip = excluded | {own_id} if own_id is not None else excluded
        # not in rows: deleted after the index caught up, never served
        candidates = [(pk, score) for pk, score in zip(hits.ids.tolist(), hits.scores.tolist())
                      if pk not in skip and pk in rows]
        if v5:
            ranked = _v5_results(query, content, candidates, rows, k=k, min_score=min_score, match=match,
                                 mirror=mirror, handedness=handedness)
            served.update(pk for pk, _ in ranked)
            results = [result for _, result in ranked]
        else:
            results = []
            for pk, score in candidates:
                if len(results) == k or (min_score is not None and score < min_score):
                    break
                key, meta, _ = rows[pk]
                results.append({"key": key, "score": float(score), "meta": meta})
                served.add(pk)
        result_lists.append(results)
    referenced = served | {own for own in own_ids if own is not None}
    if referenced:
        _mark_referenced(referenced)
    return {"results": result_lists, "backend": outcome.backend, "degraded": outcome.degraded,
            "generation": outcome.generation}


def vector_similarity_search(*, feature_version: str, vector=None, key: str | None = None, k: int = 10,
                             min_score: float | None = None, filters: dict | None = None,
                             min_generation: int | None = None, exclude_keys: Sequence[str] = (),
                             match: str = "any", cad_file: str | None = None,
                             mirror: str = "same", cad_file_handedness: int | None = None) -> dict[str, Any]:
    """The k most similar vectors to a vector or to a stored key (which is left out of its results).

    v1-v4: exact cosine, ``{"results": [{"key", "score", "meta"}], "backend", "degraded", "generation"}``.
    v5: re-ranked by the v5 distance; each result also says its ``match`` kind (``exact`` when its
    ``meta["cad_file"]`` is the query's content: the key's ``meta["cad_file"]`` or ``cad_file``), ``scale_factor``,
    ``unit_mismatch_suspected`` and ``shape_distance``; ``match`` (``any``, ``duplicate``, ``shape``) keeps only
    the kinds asked for (see ``features.extractors.v5_match``). ``mirror="distinct"`` labels ``mirror_image`` a
    same-shape result whose file's handedness (the stored descriptor of its ``meta["cad_file"]``) is opposite to
    the query's (the file of the key's ``meta["cad_file"]``, or of ``cad_file``); ``same`` (the default) ignores
    handedness. ``cad_file_handedness`` gives the handedness of ``cad_file`` when its row is not stored yet (an
    analysis searches before it writes).
    """
    started = time.perf_counter()
    query = {"vector": vector, "key": key, "cad_file": cad_file, "handedness": cad_file_handedness}
    out = _search(feature_version, [query], k=k, min_score=min_score,
                  filters=filters, min_generation=min_generation, exclude_keys=exclude_keys, match=match,
                  mirror=mirror)
    metrics.VECTOR_QUERY_LATENCY.labels(backend=out["backend"]).observe(time.perf_counter() - started)
    return {**out, "results": out["results"][0]}


def vector_similarity_search_batch(*, feature_version: str, queries: Sequence[dict], k: int = 10,
                                   min_score: float | None = None, filters: dict | None = None,
                                   min_generation: int | None = None, match: str = "any",
                                   mirror: str = "same") -> dict[str, Any]:
    """One result list per query (each ``{"vector": [...]}`` (optionally with its ``cad_file``) or ``{"key": ...}``),
    searched as one batch; v5 results carry their match kinds as in ``vector_similarity_search``."""
    if not queries or len(queries) > settings.CADML_SIMILARITY_BATCH_MAX:
        raise InvalidQuery(f"a batch holds 1 to {settings.CADML_SIMILARITY_BATCH_MAX} queries",
                           context={"queries": len(queries)})
    started = time.perf_counter()
    queries = [{**query, "handedness": None} for query in queries]  # a stored file's handedness is read, not given
    out = _search(feature_version, queries, k=k, min_score=min_score, filters=filters,
                  min_generation=min_generation, exclude_keys=(), match=match, mirror=mirror)
    metrics.VECTOR_QUERY_BATCH_LATENCY.labels(batch_size_range=metrics.batch_size_range(len(queries))).observe(
        time.perf_counter() - started)
    return out


# ---- index status -----------------------------------------------------------------------------------------------
def _version_status(row: IndexState, now) -> dict[str, Any]:
    state = policy_state(row)
    loaded = index_holder().loaded().get(row.feature_version)
    events = IndexEvent.objects.filter(feature_version=row.feature_version)[:EVENTS_SHOWN]
    return {
        "feature_version": row.feature_version,
        "mode": "memory" if row.degraded else "faiss",
        "degraded": row.degraded,
        "size": Vector.objects.filter(feature_version=row.feature_version).count(),
        "generation": row.generation,
        "degraded_since": row.degraded_since,
        "reason": row.degraded_reason,
        "duration_seconds": (now - row.degraded_since).total_seconds() if row.degraded_since else 0.0,
        "drill_until": row.drill_until,
        "next_attempt_in_seconds": seconds_until_next_attempt(state, now.timestamp()) if row.degraded else None,
        "suppression_left_seconds": suppression_left(state, now.timestamp()),
        "recovery_failures": row.recovery_failures,
        "last_error": row.last_error,
        "last_attempt_at": row.last_attempt_at,
        "last_attempt_result": row.last_attempt_result,
        "snapshot": {"generation": row.snapshot_generation, "count": row.snapshot_count, "at": row.snapshot_at},
        "this_process": None if loaded is None else {
            "backend": loaded.backend, "generation": loaded.generation,
            "kind": getattr(loaded.store, "kind", "memory"), "count": loaded.store.count},
        "events": [{"event": e.event, "reason": e.reason, "detail": e.detail, "actor": e.actor,
                    "at": e.created_at} for e in events],
    }


def index_status(*, feature_version: str | None = None) -> list[dict[str, Any]]:
    """Per feature version: mode, size, generation, degraded state, recovery timing, last events."""
    rows = IndexState.objects.all()
    if feature_version is not None:
        checked_version(feature_version)
        rows = rows.filter(feature_version=feature_version)
    now = timezone.now()
    return [_version_status(row, now) for row in rows]


def degraded_duration_seconds() -> float:
    """Seconds in the longest current degraded spell over all versions (0 when healthy)."""
    now = timezone.now()
    since = IndexState.objects.filter(degraded=True, degraded_since__isnull=False).values_list("degraded_since",
                                                                                               flat=True)
    return max([(now - s).total_seconds() for s in since], default=0.0)


def flap_suppression_active() -> bool:
    return IndexState.objects.filter(suppressed_until__gt=timezone.now()).exists()


def migration_run_get(*, run_id: int) -> MigrationRun:
    from vectors.errors import MigrationNotFound

    run = MigrationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise MigrationNotFound(f"no migration run {run_id}", context={"run_id": run_id})
    return run


def migration_preview(*, from_version: str, to_version: str, limit: int | None = None) -> dict[str, Any]:
    """What a migration would do to the first ``limit`` source vectors (all when None), computed exactly as the
    apply does: counts, dimension delta, per-vector delta statistics and warnings. Vectors that apply re-parses
    from their stored original (v5 of a summary stored before v5) are counted (``reparsed``) without parsing, so
    they have no delta here; vectors without a stored original are counted as ``needs_source``."""
    from vectors.migration_plan import migrate_vector, migration_summary

    checked_versions(from_version, to_version)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidQuery("limit must be a positive integer", context={"limit": limit})
    source = Vector.objects.filter(feature_version=from_version)
    rows = source.order_by("id").values_list("values", "meta")
    if limit is not None:
        rows = rows[:limit]
    methods, deltas = [], []
    for values, meta in rows.iterator(chunk_size=2000):
        moved = migrate_vector(np.frombuffer(bytes(values), dtype="<f4"), meta, from_version=from_version,
                               to_version=to_version, reparse=False)
        methods.append(moved.method)
        deltas.append(moved.delta)
    summary = migration_summary(from_version=from_version, to_version=to_version, methods=methods, deltas=deltas)
    return {**summary, "source_total": source.count(), "limit": limit}


def degraded_spells(*, since) -> list[dict[str, Any]]:
    """Degraded spells per version from the event history: ``{feature_version, start, end (None: ongoing),
    reason}``, clipped to ``since``."""
    spells: list[dict[str, Any]] = []
    open_spells: dict[str, dict[str, Any]] = {}
    opening = {IndexEvent.Kind.DEGRADED, IndexEvent.Kind.DRILL}
    for version, event, reason, at in (IndexEvent.objects.order_by("created_at", "id")
                                       .values_list("feature_version", "event", "reason", "created_at")):
        if event in opening and version not in open_spells:
            open_spells[version] = {"feature_version": version, "start": at, "end": None, "reason": reason}
            spells.append(open_spells[version])
        elif event == IndexEvent.Kind.RESTORED and version in open_spells:
            open_spells.pop(version)["end"] = at
    return [s for s in spells if s["end"] is None or s["end"] >= since]
