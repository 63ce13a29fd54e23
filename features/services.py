"""Writes of the features app: ingest a CAD file (parse once per content), create an analysis, import files.

Parse errors (Django-free `CadParseError`, a DomainError of stage "parse") are raised as they are: 413 too large,
415 unsupported or undetectable format, 422 corrupt/empty/crashed/timed-out parse; 503 when no parse worker
is available; 400 for an unknown feature version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cadml_site.errors import Conflict, DomainError, ServiceUnavailable, Unprocessable
from cachectl.services import feature_cache_get, feature_cache_put
from cadml_site.metrics import CAD_PARSE_FAILURES, CAD_PARSE_LATENCY, FEATURE_EXTRACTION_LATENCY
from features.extractors import NeedsSource, UnknownFeatureVersion, check_version, extract_features
from features.models import Analysis, CadFile
from features.originals import (
    STORAGE_ERRORS,
    original_key,
    original_read,
    original_save,
    originals_storage,
    thumbnail_save,
)
from features.parse_pool import get_parse_pool
from features.parsers.dispatch import check_size, parse_document, too_large_error
from features.parsers.document import FORMATS, CadDocument
from features.parsers.errors import CadParseError
from features.parsers.pool import ParsePoolUnavailable
from modelops.errors import FeatureVersionMismatch
from modelops.selectors import classify_vector
from vectors.selectors import served_feature_version, similarity_options_check, vector_similarity_search
from vectors.services import vector_upsert

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


def upload_too_large(size: int) -> DomainError:
    """The 413 for an upload of `size` bytes (over `CADML_UPLOAD_MAX_BYTES`)."""
    return too_large_error(size, settings.CADML_UPLOAD_MAX_BYTES)


def upload_refused(size: int) -> DomainError:
    """Counts a refused oversized upload and returns its 413 (raised by the caller or the upload handler)."""
    CAD_PARSE_FAILURES.labels(format="unknown", reason="file_too_large").inc()
    return upload_too_large(size)


def _size_checked(size: int) -> None:
    if size > settings.CADML_UPLOAD_MAX_BYTES:
        raise upload_refused(size)


def upload_read(*, upload) -> bytes:
    """The bytes of an uploaded file, refused (413) before reading when it is over the upload cap."""
    _size_checked(upload.size or 0)
    upload.seek(0)
    return upload.read(settings.CADML_UPLOAD_MAX_BYTES + 1)


@dataclass(frozen=True)
class IngestResult:
    cad_file: CadFile
    reused: bool  # the same content had been parsed before: no parse happened
    parse_seconds: float


def _parse(data: bytes, name: str) -> tuple[CadDocument, float]:
    """Parse in the worker pool; a CadParseError (4xx) is counted and raised, an unavailable pool is a 503."""
    started = time.perf_counter()
    try:
        document = parse_document(data, name=name, pool=get_parse_pool(), max_bytes=settings.CADML_UPLOAD_MAX_BYTES)
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


def _original_save(sha256: str, data: bytes) -> str:
    """Keep the original in the cad_originals storage (once per content); 503 when the storage fails."""
    try:
        key, _written = original_save(sha256=sha256, data=data)
    except STORAGE_ERRORS as exc:  # no row without its original
        logger.warning("original %s not stored: %s: %s", sha256[:12], type(exc).__name__, exc)
        raise ServiceUnavailable("The originals storage could not store the file; nothing was recorded.",
                                 code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                 context={"sha256": sha256}, headers={"Retry-After": "5"}) from None
    return key


def _original_backfill(cad_file: CadFile, data: bytes) -> CadFile:
    """A row stored before originals were kept gets its original when the same content is uploaded again."""
    key = _original_save(cad_file.sha256, data)
    now = timezone.now()
    CadFile.objects.filter(pk=cad_file.pk, original_key="").update(original_key=key, original_stored_at=now)
    cad_file.original_key, cad_file.original_stored_at = key, now
    thumbnail_enqueue(cad_file_id=cad_file.pk)
    return cad_file


def cad_file_ingest(*, data: bytes, name: str, meta: dict | None = None) -> IngestResult:
    """Store the parsed summary of `data` and keep the original; the same content is parsed and stored once.

    The original is written to the cad_originals storage before the row commits (a failed write leaves no row:
    503 `original_storage_unavailable`); a row stored before originals were kept gets its original now.
    """
    _size_checked(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    existing = CadFile.objects.filter(sha256=sha256).first()
    if existing is not None:
        if not existing.has_original:
            _original_backfill(existing, data)
        return IngestResult(cad_file=existing, reused=True, parse_seconds=0.0)
    document, seconds = _parse(data, name)
    key = _original_save(sha256, data)
    try:
        with transaction.atomic():
            cad_file = CadFile.objects.create(
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
    except IntegrityError:  # the same content was stored concurrently: use that row
        cad_file = CadFile.objects.get(sha256=sha256)
        if not cad_file.has_original:
            _original_backfill(cad_file, data)
        return IngestResult(cad_file=cad_file, reused=True, parse_seconds=seconds)
    thumbnail_enqueue(cad_file_id=cad_file.pk)
    return IngestResult(cad_file=cad_file, reused=False, parse_seconds=seconds)


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


def cad_file_features(*, cad_file: CadFile, version: str, data: bytes | None = None) -> tuple[list[float], bool]:
    """(values, cache_hit): through the feature cache; a miss is extracted from the stored summary and cached.

    A summary stored before the version's geometry existed (v5: `NeedsSource`) is re-parsed first
    (`cad_file_reparse`, from `data` when given, else from the stored original).
    """
    cached = feature_cache_get(sha256=cad_file.sha256, version=version)
    if cached is not None:
        return [float(v) for v in cached["values"]], True
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
    feature_cache_put(sha256=cad_file.sha256, version=version, values=values, document_id=cad_file.pk)
    return values, False


def cad_file_features_from_original(*, sha256: str, version: str) -> list[float] | None:
    """Cross-app (vectors' migration): `version`'s features of a stored file; a summary that predates the version's
    geometry is re-parsed from the stored original in the parse pool and the CadFile summary updated.

    None when the file or its original is not stored, or the original no longer parses (logged): the caller counts
    it as `needs_source`. A failing storage or parse pool raises (503), so a migration run fails and resumes.
    """
    cad_file = CadFile.objects.filter(sha256=sha256).first()
    if cad_file is None:
        return None
    try:
        values, _hit = cad_file_features(cad_file=cad_file, version=version)
    except DomainError as exc:
        if exc.status >= 500:
            raise  # the storage or the parse pool is down: the run fails and resumes later
        logger.warning("features %s of %s not computed from the original: %s (%s)", version, sha256[:12],
                       exc.message, exc.code)
        return None
    return values


def _timed_section(name: str, timings: dict, call: Callable[[], dict]) -> dict:
    """Run one cross-app call; a DomainError it raises becomes an error section, not a failed analysis."""
    started = time.perf_counter()
    try:
        return call()
    except DomainError as exc:
        logger.warning("analyze: %s section failed: %s (%s)", name, exc.message, exc.code)
        return {"status": "error", "code": exc.code, "message": exc.message}
    finally:
        timings[f"{name}_seconds"] = time.perf_counter() - started


def _vector_section(cad_file: CadFile, version: str, values: list[float], key: str, meta: dict) -> dict:
    written = vector_upsert(key=key, feature_version=version, values=values, meta=meta)
    return {"status": "registered", "key": written.key, "generation": written.generation,
            "registered": True, "created": written.created}


def _similar_section(version: str, values: list[float], k: int, vector: dict, match: str, sha256: str,
                     mirror: str = "same") -> dict:
    registered = vector.get("registered")
    found = vector_similarity_search(
        feature_version=version,
        vector=values,
        k=k,
        min_generation=vector["generation"] if registered else None,
        exclude_keys=(vector["key"],) if registered else (),
        match=match,
        cad_file=sha256,
        mirror=mirror,
    )
    return {"status": "ok", **found}


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
    started = time.perf_counter()
    version = feature_version_check(feature_version or served_feature_version())
    similarity_options_check(feature_version=version, match=match, mirror=mirror)  # before the parse
    ingest = cad_file_ingest(data=data, name=name, meta=meta)
    cad_file = ingest.cad_file
    timings: dict[str, float] = {"parse_seconds": ingest.parse_seconds}
    feature_started = time.perf_counter()
    values, cache_hit = cad_file_features(cad_file=cad_file, version=version, data=data)
    timings["features_seconds"] = time.perf_counter() - feature_started

    sections: dict[str, Any] = {"cache": {"hit": cache_hit}}
    if register_vector:
        vector_meta = {**cad_file.meta, **(meta or {}), "cad_file": cad_file.sha256, "format": cad_file.format,
                       "name": name or cad_file.original_name}
        key = vector_key or cad_file.sha256
        sections["vector"] = _timed_section(
            "vector", timings, lambda: _vector_section(cad_file, version, values, key, vector_meta))
    else:
        sections["vector"] = {"status": "not_requested", "key": None, "generation": None, "registered": False}
    if similar_k > 0:
        sections["similar"] = _timed_section(
            "similar", timings,
            lambda: _similar_section(version, values, similar_k, sections["vector"], match, cad_file.sha256,
                                     mirror))
    else:
        sections["similar"] = {"status": "not_requested", "results": []}
    if classify:
        sections["classification"] = _timed_section(
            "classification", timings, lambda: _classification_section(version, values))
    else:
        sections["classification"] = {"status": "not_requested"}
    timings["total_seconds"] = time.perf_counter() - started
    return Analysis.objects.create(
        cad_file=cad_file,
        feature_version=version,
        values=values,
        reused_file=ingest.reused,
        timings=timings,
        sections=sections,
    )


def _read_local(path: str) -> tuple[bytes | None, dict | None]:
    """(data, None) or (None, failed outcome) for a file on this host."""
    try:
        size = os.path.getsize(path)
        check_size(size, settings.CADML_UPLOAD_MAX_BYTES)
        with open(path, "rb") as handle:
            return handle.read(), None
    except CadParseError as exc:
        return None, {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    except OSError as exc:
        return None, {"status": "failed", "path": path, "code": "unreadable", "message": str(exc)}


def _import_data(*, data: bytes, name: str, path: str, meta: dict | None, feature_version: str | None) -> dict:
    existing = CadFile.objects.filter(sha256=hashlib.sha256(data).hexdigest()).first()
    if existing is not None:
        if not existing.has_original:  # stored before originals were kept: keep it now
            try:
                _original_backfill(existing, data)
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
        _original_save(sha256, data)
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
    if outcome["status"] == "failed" and not CadFile.objects.filter(sha256=sha256).exists():
        try:
            originals_storage().delete(original_key(sha256))
        except STORAGE_ERRORS as exc:
            logger.warning("unparsable original %s not removed: %s", sha256[:12], exc)
    return outcome


# ---- thumbnails ----------------------------------------------------------------------------------------------------

def thumbnail_enqueue(*, cad_file_id: int) -> None:
    """Render the file's thumbnail off the request path: a Celery task sent once the row has committed. In the
    embedded default (no broker: Celery eager) it is rendered in process right after the commit, by a direct call:
    Celery's eager `apply` toggles a process-global "inside a task" flag that concurrent request threads leave set,
    after which any `result.get()` in the process fails."""
    # robust: a broker that is down loses a thumbnail (the backfill command renders it), never the upload
    transaction.on_commit(lambda: _thumbnail_after_commit(cad_file_id), robust=True)


def _thumbnail_after_commit(cad_file_id: int) -> None:
    from features.tasks import cad_file_thumbnail_task

    if not cad_file_thumbnail_task.app.conf.task_always_eager:
        cad_file_thumbnail_task.delay(cad_file_id)
        return
    try:
        cad_file_thumbnail_render(cad_file_id=cad_file_id)
    except ServiceUnavailable as exc:  # no broker to retry through: `manage.py render_thumbnails` backfills it
        logger.warning("thumbnail of CAD file %s deferred: %s", cad_file_id, exc.code)


def cad_file_thumbnail_render(*, cad_file_id: int, force: bool = False) -> dict:
    """Render the thumbnail of a stored file from its original in the cad_originals storage (never a local path)
    in a parse-pool worker (memory limit, wall timeout, kill), store it next to the original and record its key.

    Returns `{"status": rendered|exists|skipped|failed, ...}`. A file whose geometry cannot be drawn is recorded
    as failed (`thumbnail_error`) and not retried unless `force`; a failing storage or an unavailable pool raises
    `ServiceUnavailable` (transient: the task retries).
    """
    cad_file = CadFile.objects.filter(pk=cad_file_id).first()
    if cad_file is None:
        return {"status": "skipped", "reason": "cad_file_not_found"}
    if cad_file.has_thumbnail and not force:
        return {"status": "exists", "key": cad_file.thumbnail_key}
    if not cad_file.has_original:
        return {"status": "skipped", "reason": "original_not_stored"}
    if cad_file.thumbnail_error and not force:
        return {"status": "skipped", "reason": cad_file.thumbnail_error}
    try:
        data = original_read(cad_file.original_key)
    except FileNotFoundError:
        CadFile.objects.filter(pk=cad_file.pk).update(thumbnail_error="original_missing")
        return {"status": "failed", "code": "original_missing"}
    except STORAGE_ERRORS as exc:
        raise ServiceUnavailable(f"The originals storage could not be read: {type(exc).__name__}",
                                 code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                 context={"sha256": cad_file.sha256}, headers={"Retry-After": "5"}) from None
    started = time.perf_counter()
    try:
        png = get_parse_pool().render(cad_file.format, data)
    except CadParseError as exc:
        logger.warning("thumbnail of %s not rendered: %s (%s)", cad_file.sha256[:12], exc.message, exc.code)
        CadFile.objects.filter(pk=cad_file.pk).update(thumbnail_error=exc.code[:64])
        return {"status": "failed", "code": exc.code}
    except ParsePoolUnavailable as exc:
        raise ServiceUnavailable(str(exc), code="parser_unavailable", stage="thumbnails",
                                 headers={"Retry-After": "5"}) from None
    seconds = time.perf_counter() - started
    try:
        key = thumbnail_save(sha256=cad_file.sha256, png=png)
    except STORAGE_ERRORS as exc:
        raise ServiceUnavailable(f"The originals storage could not store the thumbnail: {type(exc).__name__}",
                                 code="original_storage_unavailable", stage=STAGE_ORIGINALS,
                                 context={"sha256": cad_file.sha256}, headers={"Retry-After": "5"}) from None
    CadFile.objects.filter(pk=cad_file.pk).update(thumbnail_key=key, thumbnail_error="")
    return {"status": "rendered", "key": key, "bytes": len(png), "render_seconds": seconds}


def cad_file_similar_parts(*, cad_file: CadFile, k: int, match: str = "any") -> dict:
    """The nearest registered parts of a stored file (the search page's "pick a stored part"): its features in the
    served version (computed and cached when missing), searched with the file as the query's content (its own
    vector, keyed by its sha256, is left out; other copies of the same content answer as `exact`)."""
    version = served_feature_version()
    values, _hit = cad_file_features(cad_file=cad_file, version=version)
    found = vector_similarity_search(feature_version=version, vector=values, k=k, exclude_keys=(cad_file.sha256,),
                                     match=match if version == "v5" else "any", cad_file=cad_file.sha256)
    return {**found, "feature_version": version}
