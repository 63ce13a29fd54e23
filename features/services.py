"""Writes of the features app: ingest a CAD file (parse once per content), keep its original, re-parse it, compute
its features, render its thumbnail. The analyze orchestration over the other apps (vectors, modelops, cachectl) is
the analysis app's (`analysis.services`): this module imports none of them.

Parse errors (Django-free `CadParseError`, a DomainError of stage "parse") are raised as they are: 413 too large,
415 unsupported or undetectable format, 422 corrupt/empty/crashed/timed-out parse; 503 when no parse worker
is available; 400 for an unknown feature version.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cadml_site.after_response import after_response
from cadml_site.celery import registered_task
from cadml_site.errors import Conflict, DomainError, ServiceUnavailable, Unprocessable
from cadml_site.metrics import CAD_PARSE_FAILURES, CAD_PARSE_LATENCY, FEATURE_EXTRACTION_LATENCY
from cadml_site.statement_parts import StatementPart, insert_columns, mark_inserted
from features.extractors import NeedsSource, UnknownFeatureVersion, check_version, extract_features
from features.models import CadFile
from features.originals import (
    STORAGE_ERRORS,
    original_key,
    original_read,
    original_save,
    original_stage,
    originals_storage,
    thumbnail_save,
)
from features.parse_pool import get_parse_pool
from features.parsers.dispatch import parse_document, too_large_error
from features.parsers.document import FORMATS, CadDocument
from features.parsers.errors import CadParseError
from features.selectors import cad_file_by_sha256
from features.parse_workers.pool import ParsePoolUnavailable
from features.thumbnail_runner import thumbnail_runners

logger = logging.getLogger("cadml.features")

STAGE_PARSE = "parse"
STAGE_FEATURES = "features"
STAGE_ORIGINALS = "originals"


def _format_label(value: Any) -> str:
    return value if value in FORMATS else "unknown"


def feature_version_check(version: str) -> str:
    try:
        return check_version(version)
    except UnknownFeatureVersion as exc:
        raise Unprocessable(str(exc), code="unknown_feature_version", stage=STAGE_FEATURES,
                         context={"feature_version": str(version)[:20]}) from None


def upload_refused(size: int) -> DomainError:
    """Counts a refused oversized upload and returns its 413 (`file_too_large`). The upload cap
    (`CADML_UPLOAD_MAX_BYTES`) is checked once, where bytes enter: the streaming upload handler of the analyze
    endpoint and the search page (`cadml_site.api.upload_limits`, which raises this) and `upload_size_check` for a
    file read from disk (`manage.py ingest`). The parse core keeps its own guard (`parse_document`'s `max_bytes`)."""
    CAD_PARSE_FAILURES.labels(format="unknown", reason="file_too_large").inc()
    return too_large_error(size, settings.CADML_UPLOAD_MAX_BYTES)


def upload_size_check(size: int) -> None:
    """Refuse (413, counted) `size` bytes over the upload cap, for the entry points that are not an HTTP upload."""
    if size > settings.CADML_UPLOAD_MAX_BYTES:
        raise upload_refused(size)


def upload_read(*, upload) -> bytes:
    """The bytes of an uploaded file (the upload handler has already refused one over the cap)."""
    upload.seek(0)
    return upload.read()


@dataclass(frozen=True)
class IngestResult:
    cad_file: CadFile
    reused: bool  # the same content had been parsed before: no parse happened
    parse_seconds: float


def _parse(data: bytes, name: str, *, while_parsing: Callable[[], None] | None = None) -> tuple[CadDocument, float]:
    """Parse in the worker pool (`while_parsing` runs meanwhile, in this thread); a CadParseError (4xx) is counted and
    raised, an unavailable pool is a 503."""
    started = time.perf_counter()
    try:
        document = parse_document(data, name=name, pool=get_parse_pool(), max_bytes=settings.CADML_UPLOAD_MAX_BYTES,
                                  while_parsing=while_parsing)
    except CadParseError as exc:
        CAD_PARSE_FAILURES.labels(format=_format_label(exc.context.get("format")), reason=exc.code).inc()
        raise
    except ParsePoolUnavailable as exc:
        CAD_PARSE_FAILURES.labels(format="unknown", reason="pool_unavailable").inc()
        raise ServiceUnavailable(str(exc), code="parser_unavailable", stage=STAGE_PARSE,
                                 headers={"Retry-After": "5"}) from None
    seconds = time.perf_counter() - started
    CAD_PARSE_LATENCY.labels(format=document.format).observe(seconds)
    return document, seconds


def original_store(*, sha256: str, data: bytes) -> str:
    """Keep the original in the cad_originals storage (once per content) and return its key; 503 when the storage
    fails."""
    return _original_stored(sha256, lambda: original_save(sha256=sha256, data=data))


def _original_stored(sha256: str, save) -> str:
    """The key `save()` stored the original under (`original_save`, or a `StagedOriginal`'s commit); a storage
    failure is 503 `original_storage_unavailable`."""
    try:
        key, _written = save()
    except STORAGE_ERRORS as exc:  # no row without its original
        logger.warning("original %s not stored: %s: %s", sha256[:12], type(exc).__name__, exc)
        raise ServiceUnavailable("The originals storage could not store the file; nothing was recorded.",
                                 code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                 context={"sha256": sha256}, headers={"Retry-After": "5"}) from None
    return key


def cad_file_original_backfill(*, cad_file: CadFile, data: bytes) -> CadFile:
    """A row stored before originals were kept gets its original when the same content is uploaded again."""
    key = original_store(sha256=cad_file.sha256, data=data)
    now = timezone.now()
    CadFile.objects.filter(pk=cad_file.pk, original_key="").update(original_key=key, original_stored_at=now)
    cad_file.original_key, cad_file.original_stored_at = key, now
    thumbnail_enqueue(cad_file_id=cad_file.pk)
    return cad_file


def _cad_file_insert_sql(cad_file: CadFile) -> tuple[str, list]:
    """``INSERT ... ON CONFLICT (sha256) DO NOTHING RETURNING id`` of an unsaved row, built from the model's fields so
    that it follows them (the ORM has no insert that both skips a conflict and returns the id:
    ``bulk_create(ignore_conflicts=True)`` sets no pk). Postgres, SQLite >= 3.35."""
    meta = CadFile._meta
    quote = connection.ops.quote_name
    columns = insert_columns(cad_file)
    values = [value for _field, _column, value in columns]
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(column for _field, column, _value in columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))}) "
           f"ON CONFLICT ({quote(meta.get_field('sha256').column)}) DO NOTHING RETURNING {quote(meta.pk.column)}")
    return sql, values


def cad_file_insert_part(cad_file: CadFile, *, name: str) -> StatementPart:
    """The insert of an unsaved row as the part `name` of one statement (`cadml_site.statement_parts`): a
    relation of one column, `id`, holding the new row's id, or no row when a row of the same content exists (stored
    concurrently). The caller that executed it calls `cad_file_inserted` with the id."""
    sql, values = _cad_file_insert_sql(cad_file)
    return StatementPart(name=name, sql=sql, params=values)


def cad_file_inserted(cad_file: CadFile, pk: int, *, data: bytes) -> CadFile:
    """The row `cad_file` of the upload `data` was inserted with id `pk` (by `cad_file_insert_part` or
    `_cad_file_insert`): the instance is saved, and its thumbnail is queued for after the commit, with what an
    embedded render can take from this request instead of the database and the storage (`NewFileThumbnail`)."""
    mark_inserted(cad_file, pk)
    thumbnail_enqueue(cad_file_id=pk, new_file=NewFileThumbnail.of(cad_file, data))
    return cad_file


def _cad_file_insert(cad_file: CadFile, *, data: bytes) -> bool:
    """Insert an unsaved row unless a row of the same content exists, in one statement (`_cad_file_insert_sql`). True
    when inserted (`cad_file_inserted` done), False when the content's row was stored concurrently. No savepoint is
    needed around it (an IntegrityError would abort an enclosing Postgres transaction), and no read before it answers
    what the write can."""
    sql, values = _cad_file_insert_sql(cad_file)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    cad_file_inserted(cad_file, row[0], data=data)
    return True


def cad_file_prepare(*, data: bytes, name: str, meta: dict | None = None, sha256: str | None = None) -> IngestResult:
    """The row of `data`'s content: the stored row (`reused`), or a new one parsed and not yet inserted (`pk` None),
    its original already in the cad_originals storage, fsynced (a failed write: 503 `original_storage_unavailable`,
    nothing recorded). The original is written in this thread while the parse pool parses (`original_stage`, its
    `write` handed to the parse as `while_parsing`) and put in place only once the parse succeeded, so a file that
    does not parse leaves nothing. A stored row kept before originals were gets its original now. One statement (the
    lookup that spares a parse). The caller inserts a new row: `cad_file_store` alone, or `cad_file_insert_part` in
    one statement with the rows that refer to it. `sha256`: the hex sha256 the caller has just computed of `data`
    (computed here when None; the original's write checks it again)."""
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    existing = cad_file_by_sha256(sha256=sha256)
    if existing is not None:
        if not existing.has_original:
            cad_file_original_backfill(cad_file=existing, data=data)
        return IngestResult(cad_file=existing, reused=True, parse_seconds=0.0)
    staged = original_stage(sha256=sha256, data=data)
    try:
        document, seconds = _parse(data, name, while_parsing=staged.write)
    except BaseException:
        staged.discard()
        raise
    key = _original_stored(sha256, staged.commit)
    cad_file = CadFile(
        sha256=sha256,
        size=len(data),
        original_name=(name or "")[:255],
        format=document.format,
        parser=document.parser,
        parse_seconds=seconds,
        summary=document.to_dict(),
        meta=dict(meta or {}),
        original_key=key,
        original_stored_at=timezone.now(),
    )
    return IngestResult(cad_file=cad_file, reused=False, parse_seconds=seconds)


def cad_file_store(prepared: IngestResult, *, data: bytes) -> IngestResult:
    """Insert the new row of `cad_file_prepare` (one statement); when the same content was stored concurrently, that
    row is taken instead (`reused`). A row already stored is returned as it is."""
    cad_file = prepared.cad_file
    if cad_file.pk is not None or _cad_file_insert(cad_file, data=data):
        return prepared
    return IngestResult(cad_file=cad_file_stored_concurrently(sha256=cad_file.sha256, data=data), reused=True,
                        parse_seconds=prepared.parse_seconds)


def cad_file_stored_concurrently(*, sha256: str, data: bytes) -> CadFile:
    """The row another writer stored for this content while this one parsed it (its insert met the conflict)."""
    cad_file = CadFile.objects.get(sha256=sha256)
    if not cad_file.has_original:
        cad_file_original_backfill(cad_file=cad_file, data=data)
    return cad_file


def cad_file_ingest(*, data: bytes, name: str, meta: dict | None = None) -> IngestResult:
    """Store the parsed summary of `data` and keep the original; the same content is parsed and stored once
    (`cad_file_prepare`, then `cad_file_store`). Two statements for new content (the lookup that spares a parse, then
    the insert), one for known content."""
    return cad_file_store(cad_file_prepare(data=data, name=name, meta=meta), data=data)


def _needs_source(cad_file: CadFile, version: str, reason: str, message: str) -> Conflict:
    return Conflict(message, code="needs_source", stage=STAGE_FEATURES,
                    context={"sha256": cad_file.sha256, "feature_version": version, "reason": reason})


def cad_file_reparse(*, cad_file: CadFile, data: bytes | None = None) -> CadFile:
    """Parse a stored file again in the parse pool and store the new summary (how a row stored before v5 gains the
    geometry v5 is computed from). Reads the stored original, or takes `data` when the caller holds the same
    content (analyze of a re-uploaded file: the bytes are checked against the row's sha256).

    409 `needs_source` when the original is not stored (`reason` original_not_stored) or its object has gone
    (original_missing); 503 `original_storage_unavailable` when the storage fails; the parse's own 422/503.
    """
    if data is None:
        if not cad_file.has_original:
            raise _needs_source(cad_file, "", "original_not_stored",
                                "This file was stored before originals were kept: upload it again so that it can be "
                                "parsed for this feature version.")
        try:
            data = original_read(cad_file.original_key)
        except FileNotFoundError:
            logger.error("original of %s recorded at %r is missing", cad_file.sha256[:12], cad_file.original_key)
            raise _needs_source(cad_file, "", "original_missing",
                                "The stored original is missing from the storage: upload the file again.") from None
        except STORAGE_ERRORS as exc:
            logger.warning("original of %s not readable: %s: %s", cad_file.sha256[:12], type(exc).__name__, exc)
            raise ServiceUnavailable("The originals storage could not be read.", code="original_storage_unavailable",
                                     stage=STAGE_ORIGINALS, context={"sha256": cad_file.sha256},
                                     headers={"Retry-After": "5"}) from None
    if hashlib.sha256(data).hexdigest() != cad_file.sha256:
        raise Conflict("The original does not match its sha256.", code="original_mismatch", stage=STAGE_ORIGINALS,
                       context={"sha256": cad_file.sha256})
    document, seconds = _parse(data, cad_file.original_name)
    summary = document.to_dict()
    CadFile.objects.filter(pk=cad_file.pk).update(summary=summary, parser=document.parser, parse_seconds=seconds)
    cad_file.summary, cad_file.parser, cad_file.parse_seconds = summary, document.parser, seconds
    return cad_file


def cad_file_features(*, cad_file: CadFile, version: str, data: bytes | None = None) -> list[float]:
    """`version`'s features of a stored file, extracted from its stored summary (no cache: the analysis app puts
    the feature cache in front of this, `analysis.services.cad_file_features_cached`).

    A summary stored before the version's geometry existed (v5: `NeedsSource`) is re-parsed first
    (`cad_file_reparse`, from `data` when given, else from the stored original).
    """
    started = time.perf_counter()
    try:
        values = extract_features(CadDocument.from_dict(cad_file.summary), version)
    except NeedsSource:
        try:
            cad_file_reparse(cad_file=cad_file, data=data)
        except Conflict as exc:
            exc.context["feature_version"] = version
            raise
        try:
            values = extract_features(CadDocument.from_dict(cad_file.summary), version)
        except NeedsSource as exc:  # the parser produced no descriptor for this file
            raise _needs_source(cad_file, version, exc.reason, str(exc)) from None
    FEATURE_EXTRACTION_LATENCY.labels(version=version).observe(time.perf_counter() - started)
    return values


def cad_file_features_from_original(*, sha256: str, version: str) -> list[float] | None:
    """Cross-app (vectors' migration): `version`'s features of a stored file; a summary that predates the version's
    geometry is re-parsed from the stored original in the parse pool and the CadFile summary updated.

    None when the file or its original is not stored, or the original no longer parses (logged): the caller counts
    it as `needs_source`. A failing storage or parse pool raises (503), so a migration run fails and resumes.
    """
    cad_file = cad_file_by_sha256(sha256=sha256)
    if cad_file is None:
        return None
    try:
        values = cad_file_features(cad_file=cad_file, version=version)
    except DomainError as exc:
        if exc.status >= 500:
            raise  # the storage or the parse pool is down: the run fails and resumes later
        logger.warning("features %s of %s not computed from the original: %s (%s)", version, sha256[:12],
                       exc.message, exc.code)
        return None
    return values


def original_discard_unreferenced(*, sha256: str) -> bool:
    """Remove the stored original of `sha256` when no CadFile row refers to it (a submitted file whose import
    failed); True when removed. A storage failure is logged and leaves the object (False)."""
    if CadFile.objects.filter(sha256=sha256).exists():
        return False
    try:
        originals_storage().delete(original_key(sha256))
    except STORAGE_ERRORS as exc:
        logger.warning("unparsable original %s not removed: %s", sha256[:12], exc)
        return False
    return True


# ---- thumbnails ----------------------------------------------------------------------------------------------------

# An embedded render of a new file is handed the upload's bytes up to this size (larger ones are read back from the
# storage), so that the renders waiting in a process's runner (THUMBNAIL_QUEUE_CAPACITY) hold at most 32 MiB.
THUMBNAIL_HELD_BYTES = 256 * 1024


@dataclass(frozen=True)
class NewFileThumbnail:
    """What the embedded render of a file this process has just inserted takes from the request that inserted it:
    the row's columns a render needs (no SELECT: a new row has no thumbnail and no recorded failure) and, for an
    upload of at most THUMBNAIL_HELD_BYTES, its bytes (`data`; None: read back from the storage)."""

    cad_file_id: int
    sha256: str
    format: str
    original_key: str
    data: bytes | None

    @classmethod
    def of(cls, cad_file: CadFile, data: bytes) -> NewFileThumbnail:
        """The render's part of the row `cad_file` just inserted from the upload `data` (held up to the size)."""
        return cls(cad_file_id=cad_file.pk, sha256=cad_file.sha256, format=cad_file.format,
                   original_key=cad_file.original_key, data=data if len(data) <= THUMBNAIL_HELD_BYTES else None)


def thumbnail_enqueue(*, cad_file_id: int, new_file: NewFileThumbnail | None = None) -> None:
    """Render the file's thumbnail off the request path: a Celery task sent once the row has committed, by this
    process's thumbnail runner once the response has been sent (`_thumbnail_publish_after_response`). In the embedded
    default (no broker: Celery eager) it is handed, once the response has been sent, to the same runner, a background
    thread that renders it (`CADML_EMBEDDED_THUMBNAILS=background`), or rendered at the commit by a direct call
    (`inline`: the response waits for it); a `new_file` is rendered from what it holds (`new_file_thumbnail_render`).
    Never Celery's eager `apply`: it toggles a process-global "inside a task" flag that concurrent request threads
    leave set, after which any `result.get()` in the process fails. A task carries the id alone: its worker may run
    on another host, and reads the row and the original there."""
    # robust: a broker that is down loses a thumbnail (the backfill command renders it), never the upload
    transaction.on_commit(lambda: _thumbnail_after_commit(cad_file_id, new_file), robust=True)


THUMBNAIL_TASK = "features.cad_file_thumbnail"


def _thumbnail_after_commit(cad_file_id: int, new_file: NewFileThumbnail | None) -> None:
    """The hand-off waits for the response (`cadml_site.after_response`): handed at the commit, the runner's thread
    took the GIL from the request while its response was still being written."""
    task = registered_task(THUMBNAIL_TASK)  # by name: services never import the tasks module
    if not task.app.conf.task_always_eager:
        after_response(lambda: _thumbnail_publish_after_response(task, cad_file_id),
                       label=f"thumbnail task of CAD file {cad_file_id}")
        return
    if settings.CADML_EMBEDDED_THUMBNAILS == "inline":
        _thumbnail_render_embedded(cad_file_id, new_file)
        return
    after_response(lambda: _thumbnail_render_in_background(cad_file_id, new_file),
                   label=f"thumbnail of CAD file {cad_file_id}")


def _thumbnail_render_in_background(cad_file_id: int, new_file: NewFileThumbnail | None) -> None:
    runner = thumbnail_runners.get()
    if not runner.submit(lambda: _thumbnail_render_embedded(cad_file_id, new_file),
                         label=f"thumbnail of CAD file {cad_file_id}"):
        logger.warning("thumbnail of CAD file %s skipped: %d renders are already waiting in this process "
                       "(`manage.py render_thumbnails` renders it)", cad_file_id, runner.capacity)


def _thumbnail_publish_after_response(task, cad_file_id: int) -> None:
    """With a broker the task is sent by this process's thumbnail runner: the client does not wait for Celery to
    build and publish the message. When the runner's queue is full it is sent now (after the response), as before.
    A process killed between its response and the send loses the message, as a broker that is down does: `manage.py
    render_thumbnails` renders what has no thumbnail."""
    runner = thumbnail_runners.get()
    if not runner.submit(lambda: _thumbnail_send(task, cad_file_id), label=f"thumbnail task of CAD file {cad_file_id}"):
        _thumbnail_send(task, cad_file_id)


def _thumbnail_send(task, cad_file_id: int) -> None:
    try:
        task.delay(cad_file_id)
    except Exception:  # a broker that is down loses a thumbnail (the backfill command renders it), never the upload
        logger.warning("thumbnail task of CAD file %s not sent (`manage.py render_thumbnails` renders it)",
                       cad_file_id, exc_info=True)


def _thumbnail_render_embedded(cad_file_id: int, new_file: NewFileThumbnail | None) -> None:
    try:
        if new_file is None:
            cad_file_thumbnail_render(cad_file_id=cad_file_id)
        else:
            new_file_thumbnail_render(new_file)
    except ServiceUnavailable as exc:  # no broker to retry through: `manage.py render_thumbnails` backfills it
        logger.warning("thumbnail of CAD file %s deferred: %s", cad_file_id, exc.code)


def thumbnail_renders_wait(*, timeout_seconds: float | None) -> bool:
    """Wait until this process's thumbnail runner has rendered what it holds (a command that ingested files in
    process, before it exits); True when nothing is left. At most `timeout_seconds` (None: no bound)."""
    runner = thumbnail_runners.current()
    return True if runner is None else runner.wait_idle(timeout_seconds)


def cad_file_thumbnail_render(*, cad_file_id: int, force: bool = False) -> dict:
    """Render the thumbnail of a stored file from its original in the cad_originals storage (never a local path)
    in a parse-pool worker (memory limit, wall timeout, kill), store it next to the original and record its key.

    Returns `{"status": rendered|exists|skipped|failed, ...}`. A file whose geometry cannot be drawn is recorded
    as failed (`thumbnail_error`) and not retried unless `force`; a failing storage or an unavailable pool raises
    `ServiceUnavailable` (transient: the task retries).
    """
    # the columns a render needs: not the summary and meta, whose JSON it never reads (0.8x the SELECT's CPU)
    cad_file = (CadFile.objects.filter(pk=cad_file_id)
                .only("sha256", "format", "original_key", "thumbnail_key", "thumbnail_error").first())
    if cad_file is None:
        return {"status": "skipped", "reason": "cad_file_not_found"}
    if cad_file.has_thumbnail and not force:
        return {"status": "exists", "key": cad_file.thumbnail_key}
    if not cad_file.has_original:
        return {"status": "skipped", "reason": "original_not_stored"}
    if cad_file.thumbnail_error and not force:
        return {"status": "skipped", "reason": cad_file.thumbnail_error}
    return _thumbnail_drawn(cad_file_id=cad_file.pk, sha256=cad_file.sha256, fmt=cad_file.format,
                            original_key=cad_file.original_key, data=None)


def new_file_thumbnail_render(new_file: NewFileThumbnail) -> dict:
    """`cad_file_thumbnail_render` of a file this process has just inserted, from what its request held
    (`NewFileThumbnail`): no SELECT of the row and, for a small upload, no read of its original (the embedded
    default's render of every new file)."""
    return _thumbnail_drawn(cad_file_id=new_file.cad_file_id, sha256=new_file.sha256, fmt=new_file.format,
                            original_key=new_file.original_key, data=new_file.data)


def _thumbnail_drawn(*, cad_file_id: int, sha256: str, fmt: str, original_key: str, data: bytes | None) -> dict:
    """Render, store and record the thumbnail of the row `cad_file_id` (the original read from the storage when
    `data` is None); one UPDATE."""
    if data is None:
        try:
            data = original_read(original_key)
        except FileNotFoundError:
            CadFile.objects.filter(pk=cad_file_id).update(thumbnail_error="original_missing")
            return {"status": "failed", "code": "original_missing"}
        except STORAGE_ERRORS as exc:
            raise ServiceUnavailable(f"The originals storage could not be read: {type(exc).__name__}",
                                     code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                     context={"sha256": sha256}, headers={"Retry-After": "5"}) from None
    started = time.perf_counter()
    try:
        png = get_parse_pool().render(fmt, data)
    except CadParseError as exc:
        logger.warning("thumbnail of %s not rendered: %s (%s)", sha256[:12], exc.message, exc.code)
        CadFile.objects.filter(pk=cad_file_id).update(thumbnail_error=exc.code[:64])
        return {"status": "failed", "code": exc.code}
    except ParsePoolUnavailable as exc:
        raise ServiceUnavailable(str(exc), code="parser_unavailable", stage="thumbnails",
                                 headers={"Retry-After": "5"}) from None
    seconds = time.perf_counter() - started
    try:
        key = thumbnail_save(sha256=sha256, png=png)
    except STORAGE_ERRORS as exc:
        raise ServiceUnavailable(f"The originals storage could not store the thumbnail: {type(exc).__name__}",
                                 code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                 context={"sha256": sha256}, headers={"Retry-After": "5"}) from None
    CadFile.objects.filter(pk=cad_file_id).update(thumbnail_key=key, thumbnail_error="")
    return {"status": "rendered", "key": key, "bytes": len(png), "render_seconds": seconds}
