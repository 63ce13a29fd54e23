"""Writes of the analysis app: analyze a CAD file across the apps, and import files (the ingest path).

An analysis parses and extracts through the features app (`features.services`), puts the feature cache in front of
the extraction (cachectl), registers the vector and lists similar parts (vectors), and classifies it (modelops).
The served feature version, the default of an analysis, is read here (vectors) and handed to features.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.db import connection, transaction

from analysis.models import Analysis
from cachectl.services import feature_cache_get, feature_cache_put
from cadml_site.errors import DomainError
from cadml_site.prepared_statements import statement_cursor
from cadml_site.statement_parts import StatementPart, insert_columns, joined_statement, mark_inserted
from features.file_facts import CadFileFacts, file_facts
from features.models import CadFile
from features.originals import STORAGE_ERRORS, original_key, original_read
from features.parsers.errors import CadParseError
from features.selectors import cad_file_by_sha256, cad_file_lookup_parts, cad_file_of_row, summary_handedness
from features.services import (
    IngestResult,
    cad_file_features,
    cad_file_insert_part,
    cad_file_inserted,
    cad_file_original_backfill,
    cad_file_prepare,
    cad_file_store,
    feature_version_check,
    original_discard_unreferenced,
    original_store,
    upload_size_check,
)
from modelops.errors import FeatureVersionMismatch
from modelops.selectors import classify_vector
from vectors.selectors import served_feature_version, similarity_options_check, vector_similarity_search
from vectors.services import vector_write_check, vector_write_checked, vector_write_parts
from vectors.services.vector_writes import CheckedWrite

logger = logging.getLogger("cadml.analysis")


def _features_through_cache(cad_file: CadFile, version: str, data: bytes | None) -> tuple[list[float], bool]:
    """(values, cache_hit): the feature cache's entry, or the values computed by `features.services.cad_file_features`
    (from the stored summary, re-parsed first when it predates the version's geometry), not yet cached."""
    return _features_of(cad_file, version, data, feature_cache_get(sha256=cad_file.sha256, version=version))


def _features_of(cad_file: CadFile, version: str, data: bytes | None, cached: dict | None) -> tuple[list[float], bool]:
    """`_features_through_cache` with the feature cache's entry (`cached`, None: a miss) already read."""
    if cached is not None:
        return [float(v) for v in cached["values"]], True
    return cad_file_features(cad_file=cad_file, version=version, data=data), False


def cad_file_features_cached(*, cad_file: CadFile, version: str,
                             data: bytes | None = None) -> tuple[list[float], bool]:
    """(values, cache_hit): through the feature cache; a miss is computed (`_features_through_cache`) and cached."""
    values, hit = _features_through_cache(cad_file, version, data)
    if not hit:
        feature_cache_put(sha256=cad_file.sha256, version=version, values=values, document_id=cad_file.pk)
    return values, hit


def _timed_section(name: str, timings: dict, call: Callable[[], dict]) -> dict:
    """Run one cross-app call; a DomainError it raises becomes an error section, not a failed analysis."""
    started = time.perf_counter()
    try:
        return call()
    except DomainError as exc:
        return _error_section(name, exc)
    finally:
        timings[f"{name}_seconds"] = time.perf_counter() - started


def _error_section(name: str, exc: DomainError) -> dict:
    logger.warning("analyze: %s section failed: %s (%s)", name, exc.message, exc.code)
    return {"status": "error", "code": exc.code, "message": exc.message}


def _vector_section(key: str, generation: int | None, created: bool | None) -> dict:
    """A registered vector's section; its generation and `created` are None until the write fills them in."""
    return {"status": "registered", "key": key, "generation": generation, "registered": True, "created": created}


def _similar_section(version: str, values: list[float], k: int, own_key: str | None, match: str, sha256: str,
                     handedness: int | None, mirror: str = "same") -> dict:
    """The similar parts, searched before the analysis writes (its vector's own key is left out, so the answer is
    the one it would be after the write but for concurrent writes). `handedness`: a file not stored yet gives its own,
    from its summary; None for a stored one (read with the results)."""
    found = vector_similarity_search(
        feature_version=version,
        vector=values,
        k=k,
        exclude_keys=(own_key,) if own_key else (),
        match=match,
        cad_file=sha256,
        mirror=mirror,
        cad_file_handedness=handedness,
    )
    return {"status": "ok", **found}


_VECTOR_NOT_REQUESTED = {"status": "not_requested", "key": None, "generation": None, "registered": False}


def _searched_and_classified(sections: dict, timings: dict, *, version: str, values: list[float], sha256: str,
                             handedness: int | None, own_key: str | None, similar_k: int, match: str, mirror: str,
                             classify: bool) -> None:
    """The similar and classification sections of an analysis of the content `sha256` (into `sections`, their times
    into `timings`); `handedness` and `own_key` as `_similar_section` takes them."""
    if similar_k > 0:
        sections["similar"] = _timed_section(
            "similar", timings,
            lambda: _similar_section(version, values, similar_k, own_key, match, sha256, handedness, mirror))
    else:
        sections["similar"] = {"status": "not_requested", "results": []}
    if classify:
        sections["classification"] = _timed_section(
            "classification", timings, lambda: _classification_section(version, values))
    else:
        sections["classification"] = {"status": "not_requested"}


def _classification_section(version: str, values: list[float]) -> dict:
    try:
        result = classify_vector(values=values, feature_version=version)
    except FeatureVersionMismatch:
        result = None  # the active model classifies another feature version: none is active for this one
    if result is None:
        return {"status": "no_active_model", "label": None, "probabilities": [], "model_version": None}
    return {"status": "classified", **result}


def analysis_create(
    *,
    data: bytes,
    name: str,
    feature_version: str | None = None,
    register_vector: bool = True,
    classify: bool = True,
    similar_k: int = 0,
    vector_key: str | None = None,
    meta: dict | None = None,
    match: str = "any",
    mirror: str = "same",
) -> Analysis:
    """Analyze one CAD file: parse it (once per content), compute its features in `feature_version` (default: the
    served version), then the cross-app sections: list similar parts, classify, register the vector. A section
    that fails is recorded as an error section (`_timed_section`); the parse and the features raise.

    Everything is read and computed first; then the file row (new content), the vector and the analysis are written
    together (`analysis_record`): on Postgres in one statement, on SQLite in one transaction. So the similar parts
    are searched before the vector is written (its own key is left out of them either way).

    Content whose features this process has cached is looked up and recorded in one statement on Postgres
    (`_known_content_analysis`): its features depend on the content alone, so nothing in the analysis waits for the
    row; a call that registers the vector also needs the facts of the row this process read last
    (`features.file_facts`), checked by the statement."""
    started = time.perf_counter()
    version = feature_version_check(feature_version or served_feature_version())
    similarity_options_check(feature_version=version, match=match, mirror=mirror)  # before the parse
    sha256 = hashlib.sha256(data).hexdigest()
    feature_started = time.perf_counter()
    cached = feature_cache_get(sha256=sha256, version=version)
    cache_seconds = time.perf_counter() - feature_started
    registered = _VectorRequest(name=name, meta=meta, key=vector_key) if register_vector else None
    if cached is not None and connection.vendor == "postgresql":
        facts = file_facts.get(sha256) if registered is not None else None
        if registered is None or facts is not None:
            known = _known_content_analysis(
                sha256=sha256, data=data, version=version, values=[float(v) for v in cached["values"]],
                timings={"parse_seconds": 0.0, "features_seconds": cache_seconds}, started=started,
                similar_k=similar_k, match=match, mirror=mirror, classify=classify, registered=registered,
                facts=facts)
            if known is not None:
                file_facts.remember(known.cad_file)
                return known
    prepared = cad_file_prepare(data=data, name=name, meta=meta, sha256=sha256)
    cad_file = prepared.cad_file
    timings: dict[str, float] = {"parse_seconds": prepared.parse_seconds}
    feature_started = time.perf_counter()
    try:
        values, cache_hit = _features_of(cad_file, version, data, cached)
    except DomainError:
        cad_file_store(prepared, data=data)  # a file whose features fail is kept, as a file that was analyzed
        raise
    timings["features_seconds"] = time.perf_counter() - feature_started + cache_seconds

    sections: dict[str, Any] = {"cache": {"hit": cache_hit}}
    vector_write = _vector_write_into(sections, registered, cad_file, version, values)
    _searched_and_classified(
        sections, timings, version=version, values=values, sha256=cad_file.sha256,
        handedness=summary_handedness(cad_file.summary) if cad_file.pk is None else None,
        own_key=vector_write.keys[0] if vector_write is not None else None,
        similar_k=similar_k, match=match, mirror=mirror, classify=classify)
    timings["total_seconds"] = time.perf_counter() - started
    analysis = analysis_record(prepared=prepared, data=data, vector_write=vector_write,
                               fields={"feature_version": version, "values": values, "timings": timings,
                                       "sections": sections})
    if not cache_hit:
        feature_cache_put(sha256=cad_file.sha256, version=version, values=values, document_id=analysis.cad_file_id)
    file_facts.remember(analysis.cad_file)
    return analysis


@dataclass(frozen=True)
class _VectorRequest:
    """What an analysis that registers its vector was asked: the upload's name, the caller's meta, the vector's key
    (None: the content's sha256)."""

    name: str
    meta: dict | None
    key: str | None


def _vector_write_into(sections: dict, registered: _VectorRequest | None, row, version: str,
                       values: list[float]) -> CheckedWrite | None:
    """The vector's checked write and its section (into `sections`): its metadata from the content's `row` (a
    `CadFile`, or the `features.file_facts` of one) and from the call. None when no vector is registered, or when the
    write is refused (the section says why)."""
    if registered is None:
        sections["vector"] = dict(_VECTOR_NOT_REQUESTED)
        return None
    vector_meta = {**row.meta, **(registered.meta or {}), "cad_file": row.sha256, "format": row.format,
                   "name": registered.name or row.original_name}
    try:
        vector_write = vector_write_check(key=registered.key or row.sha256, feature_version=version, values=values,
                                          meta=vector_meta)
    except DomainError as exc:
        sections["vector"] = _error_section("vector", exc)
        return None
    sections["vector"] = _vector_section(vector_write.keys[0], None, None)  # filled in by the write
    return vector_write


def _known_content_analysis(*, sha256: str, data: bytes, version: str, values: list[float], timings: dict,
                            started: float, similar_k: int, match: str, mirror: str, classify: bool,
                            registered: _VectorRequest | None, facts: CadFileFacts | None) -> Analysis | None:
    """The analysis of content whose features (`values`) the feature cache held (Postgres).

    The sections are computed first, as for any analysis of a stored file (a vector to register takes its metadata
    from `facts`, the row this process read last); then one statement reads the content's row and inserts the vector
    and the analysis referring to it (`_known_content_recorded`): the lookup and the writes in one round trip. None
    when no row holds the content any more (the cache outlived it): the caller analyzes it as new content. When the
    statement wrote nothing (a row stored before originals were kept, a row that is not the one of `facts`, the
    version's first vector), the analysis is recorded from the row it read: its original stored first if it has none,
    and the vector's metadata taken from it."""
    sections: dict[str, Any] = {"cache": {"hit": True}}
    vector_write = _vector_write_into(sections, registered, facts, version, values)
    _searched_and_classified(sections, timings, version=version, values=values, sha256=sha256, handedness=None,
                             own_key=vector_write.keys[0] if vector_write is not None else None,
                             similar_k=similar_k, match=match, mirror=mirror, classify=classify)
    timings["total_seconds"] = time.perf_counter() - started
    fields = {"feature_version": version, "values": values, "timings": timings, "sections": sections}
    cad_file, analysis = _known_content_recorded(sha256, fields, vector_write,
                                                 row_id=facts.id if vector_write is not None else None)
    if cad_file is None or analysis is not None:
        return analysis
    if not cad_file.has_original:
        cad_file_original_backfill(cad_file=cad_file, data=data)
    if vector_write is not None:  # the same key and values; the metadata of the row as it is
        vector_write = _vector_write_into(sections, registered, cad_file, version, values)
    return analysis_record(prepared=IngestResult(cad_file=cad_file, reused=True, parse_seconds=0.0), data=data,
                           vector_write=vector_write, fields=fields)


def _known_content_recorded(sha256: str, fields: dict[str, Any], vector_write: CheckedWrite | None,
                            row_id: int | None) -> tuple[CadFile | None, Analysis | None]:
    """One statement: the row of the content `sha256` and, when the row keeps its original (and, with `row_id`, is
    the row of that id), the vector (`vector_write`) and the analysis (`fields`, `reused_file`) written referring to
    it. (row, analysis); (row, None) when nothing was written; (None, None) when no row holds the content (nothing
    written)."""
    analysis = Analysis(reused_file=True, **fields)
    parts = cad_file_lookup_parts(sha256=sha256, row="found", with_original="file", row_id=row_id)
    if vector_write is not None:
        parts += vector_write_parts(vector_write, after="file")
    parts.append(_analysis_insert_part(analysis, with_vector=vector_write is not None))
    sql, params = joined_statement(parts, f"SELECT found.*, {_recorded_columns(vector_write)} FROM found")
    with statement_cursor() as cursor:  # prepared once per connection
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    cad_file = cad_file_of_row(row)
    return cad_file, _recorded(analysis, cad_file, *row[-3:])


def _recorded_columns(vector_write: CheckedWrite | None) -> str:
    """The statement's last three columns: the analysis's id (``recorded``), the vector's generation and ``created``
    (``written``; NULL without a vector)."""
    written = "(SELECT generation FROM written), (SELECT created FROM written)" if vector_write else "NULL, NULL"
    return f"(SELECT id FROM recorded), {written}"


def _recorded(analysis: Analysis, cad_file: CadFile, analysis_id: int | None, generation: int | None,
              created: bool | None) -> Analysis | None:
    """`analysis` as the statement stored it (id `analysis_id`, referring to `cad_file`, its vector section filled in
    from the write), or None when the statement did not insert it."""
    if analysis_id is None:
        return None
    analysis.cad_file = cad_file
    mark_inserted(analysis, analysis_id)
    if generation is not None:
        analysis.sections["vector"].update(generation=generation, created=created)
    return analysis


def analysis_record(*, prepared: IngestResult, data: bytes, vector_write: CheckedWrite | None,
                    fields: dict[str, Any]) -> Analysis:
    """Write an analysis with what it refers to: the file row when it is new (`prepared` by `cad_file_prepare`), the
    vector when one is registered (`vector_write`, whose generation and `created` fill the vector section), and the
    analysis row (`fields`: feature_version, values, timings, sections).

    Postgres: one statement (`_record_in_one_statement`), its own transaction; when the content's row was stored
    concurrently (the file insert met the conflict, so nothing was written) or the version has no index state row yet
    (its first vector), the steps are taken in one transaction instead (`_record_in_steps`). SQLite: the steps, in one
    transaction."""
    if connection.vendor == "postgresql":
        recorded = _record_in_one_statement(prepared, data, vector_write, fields)
        if recorded is not None:
            return recorded
    return _record_in_steps(prepared, data, vector_write, fields)


def _record_in_one_statement(prepared: IngestResult, data: bytes, vector_write: CheckedWrite | None,
                             fields: dict[str, Any]) -> Analysis | None:
    cad_file = prepared.cad_file
    if cad_file.pk is None:
        parts = [cad_file_insert_part(cad_file, name="file")]
    else:
        parts = [StatementPart(name="file", sql="SELECT %s::bigint AS id", params=[cad_file.pk])]
    if vector_write is not None:
        parts += vector_write_parts(vector_write, after="file")
    analysis = Analysis(reused_file=prepared.reused, **fields)
    parts.append(_analysis_insert_part(analysis, with_vector=vector_write is not None))
    sql, params = joined_statement(parts, f"SELECT (SELECT id FROM file), {_recorded_columns(vector_write)}")
    with statement_cursor() as cursor:  # prepared once per connection
        cursor.execute(sql, params)
        file_id, analysis_id, generation, created = cursor.fetchone()
    if file_id is None:
        return None  # stored concurrently: nothing was written
    if cad_file.pk is None:
        cad_file_inserted(cad_file, file_id, data=data)
    # None: the version's first vector; the file row is in, the rest is written in steps
    return _recorded(analysis, cad_file, analysis_id, generation, created)


def _analysis_insert_part(analysis: Analysis, *, with_vector: bool) -> StatementPart:
    """``recorded``: the analysis row, its file the ``file`` part's row; with a vector, its section's generation and
    ``created`` taken from the ``written`` part (and written only when the vector was)."""
    meta = Analysis._meta
    quote = connection.ops.quote_name
    columns, expressions, params = [], [], []
    for field, column, value in insert_columns(analysis):
        columns.append(column)
        if field.name == "cad_file":
            expressions.append("file.id")
            continue
        params.append(value)
        if field.name == "sections" and with_vector:
            expressions.append("jsonb_set(jsonb_set(%s, '{vector,generation}', to_jsonb(written.generation)), "
                               "'{vector,created}', to_jsonb(written.created))")
        else:
            expressions.append("%s")
    sources = "file, written" if with_vector else "file"
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(expressions)} "
           f"FROM {sources} RETURNING {quote(meta.pk.column)}")
    return StatementPart(name="recorded", sql=sql, params=params)


def _record_in_steps(prepared: IngestResult, data: bytes, vector_write: CheckedWrite | None,
                     fields: dict[str, Any]) -> Analysis:
    if prepared.cad_file.pk is not None and vector_write is None:  # one row to write: its own transaction
        return Analysis.objects.create(cad_file=prepared.cad_file, reused_file=prepared.reused, **fields)
    with transaction.atomic():
        stored = cad_file_store(prepared, data=data)
        if vector_write is not None:
            written = vector_write_checked(vector_write)
            fields["sections"]["vector"] = _vector_section(written.key, written.generation, written.created)
        return Analysis.objects.create(cad_file=stored.cad_file, reused_file=stored.reused, **fields)


def _read_local(path: str) -> tuple[bytes | None, dict | None]:
    """(data, None) or (None, failed outcome) for a file on this host."""
    try:
        size = os.path.getsize(path)
        upload_size_check(size)
        with open(path, "rb") as handle:
            return handle.read(), None
    except CadParseError as exc:
        return None, {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    except OSError as exc:
        return None, {"status": "failed", "path": path, "code": "unreadable", "message": str(exc)}


def _import_data(*, data: bytes, name: str, path: str, meta: dict | None, feature_version: str | None) -> dict:
    existing = cad_file_by_sha256(sha256=hashlib.sha256(data).hexdigest())
    if existing is not None:
        if not existing.has_original:  # stored before originals were kept: keep it now
            try:
                cad_file_original_backfill(cad_file=existing, data=data)
            except DomainError as exc:
                return {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
        return {"status": "duplicate", "path": path}
    try:
        analysis = analysis_create(
            data=data, name=name, feature_version=feature_version,
            register_vector=True, classify=False, similar_k=0, meta=meta,
        )
    except DomainError as exc:
        return {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    return {"status": "created", "path": path, "analysis_id": analysis.pk, "cad_file_id": analysis.cad_file_id}


def cad_file_import(*, path: str, meta: dict | None = None, feature_version: str | None = None) -> dict:
    """Import one file from disk on this host.

    Returns an outcome instead of raising for a bad file, so a batch can summarise failures by reason:
    `{"status": "created" | "duplicate" | "failed", "path", "code"?, "message"?, "analysis_id"?}`.
    """
    data, failed = _read_local(path)
    if failed is not None:
        return failed
    return _import_data(data=data, name=os.path.basename(path), path=path, meta=meta,
                        feature_version=feature_version)


def cad_file_submit(*, path: str) -> dict:
    """First half of `manage.py ingest`, on the submitting host: keep the file's original in the cad_originals
    storage (shared by every host: S3 or a shared volume) so that any worker can import it by its sha256.

    `{"status": "stored", "path", "sha256", "name"}`, or a failed outcome (unreadable, too large, storage down).
    """
    data, failed = _read_local(path)
    if failed is not None:
        return failed
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        original_store(sha256=sha256, data=data)
    except DomainError as exc:
        return {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    return {"status": "stored", "path": path, "sha256": sha256, "name": os.path.basename(path)}


def cad_file_import_stored(*, sha256: str, name: str, meta: dict | None = None,
                           feature_version: str | None = None, path: str = "") -> dict:
    """Second half of `manage.py ingest`, on whichever worker takes the task: import a file from its original in the
    cad_originals storage (no path on the submitting host is needed). Same outcomes as `cad_file_import`; an original
    whose file does not parse is removed again (no row can refer to it)."""
    label = path or sha256
    try:
        data = original_read(original_key(sha256))
    except FileNotFoundError:
        return {"status": "failed", "path": label, "code": "original_missing",
                "message": "the submitted original is not in the originals storage"}
    except STORAGE_ERRORS as exc:
        return {"status": "failed", "path": label, "code": "original_storage_unavailable",
                "message": f"{type(exc).__name__}: {exc}"}
    if hashlib.sha256(data).hexdigest() != sha256:
        return {"status": "failed", "path": label, "code": "original_mismatch",
                "message": "the stored original does not match its sha256"}
    outcome = _import_data(data=data, name=name, path=label, meta=meta, feature_version=feature_version)
    if outcome["status"] == "failed":
        original_discard_unreferenced(sha256=sha256)  # no row refers to an original that does not parse
    return outcome


def cad_file_similar_parts(*, cad_file: CadFile, k: int, match: str = "any") -> dict:
    """The nearest registered parts of a stored file (the search page's "pick a stored part"): its features in the
    served version (computed and cached when missing), searched with the file as the query's content (its own
    vector, keyed by its sha256, is left out; other copies of the same content answer as `exact`)."""
    version = served_feature_version()
    values, _hit = cad_file_features_cached(cad_file=cad_file, version=version)
    found = vector_similarity_search(feature_version=version, vector=values, k=k, exclude_keys=(cad_file.sha256,),
                                     match=match if version == "v5" else "any", cad_file=cad_file.sha256)
    return {**found, "feature_version": version}
