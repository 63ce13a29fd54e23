"""Writes of the features app: ingest a CAD file (parse once per content), create an analysis, import files.

Parse errors (Django-free `CadParseError`) are mapped here onto the DomainError hierarchy: 413 too large,
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

from cadml_site.api.exceptions import (
    BadRequest,
    DomainError,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from cachectl.services import feature_cache_get, feature_cache_put
from cadml_site.metrics import CAD_PARSE_FAILURES, CAD_PARSE_LATENCY, FEATURE_EXTRACTION_LATENCY
from features.extractors import UnknownFeatureVersion, check_version, extract_features
from features.models import Analysis, CadFile
from features.parse_pool import get_parse_pool
from features.parsers.dispatch import check_size, parse_document, too_large_error
from features.parsers.document import FORMATS, CadDocument
from features.parsers.errors import CadParseError
from features.parsers.pool import ParsePoolUnavailable
from modelops.errors import FeatureVersionMismatch
from modelops.selectors import classify_vector
from vectors.selectors import vector_similarity_search
from vectors.services import vector_upsert

logger = logging.getLogger("cadml.features")

STAGE_PARSE = "parse"
STAGE_FEATURES = "features"
_ERROR_CLASSES: dict[str, type[DomainError]] = {
    "unsupported": UnsupportedMediaType,
    "too_large": PayloadTooLarge,
    "corrupt": Unprocessable,
}


def _domain_error(exc: CadParseError) -> DomainError:
    return _ERROR_CLASSES[exc.kind](exc.message, code=exc.code, stage=STAGE_PARSE, context=exc.context)


def _format_label(value: Any) -> str:
    return value if value in FORMATS else "unknown"


def feature_version_check(version: str) -> str:
    try:
        return check_version(version)
    except UnknownFeatureVersion as exc:
        raise BadRequest(str(exc), code="unknown_feature_version", stage=STAGE_FEATURES,
                         context={"feature_version": str(version)[:20]}) from None


def upload_too_large(size: int) -> DomainError:
    """The 413 for an upload of `size` bytes (over `CADML_UPLOAD_MAX_BYTES`)."""
    return _domain_error(too_large_error(size, settings.CADML_UPLOAD_MAX_BYTES))


def _size_checked(size: int) -> None:
    if size > settings.CADML_UPLOAD_MAX_BYTES:
        CAD_PARSE_FAILURES.labels(format="unknown", reason="file_too_large").inc()
        raise upload_too_large(size)


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


def cad_file_ingest(*, data: bytes, name: str, meta: dict | None = None) -> IngestResult:
    """Store the parsed summary of `data`; the same content is parsed only once (sha256 is unique)."""
    _size_checked(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    existing = CadFile.objects.filter(sha256=sha256).first()
    if existing is not None:
        return IngestResult(cad_file=existing, reused=True, parse_seconds=0.0)
    started = time.perf_counter()
    try:
        document = parse_document(data, name=name, pool=get_parse_pool(), max_bytes=settings.CADML_UPLOAD_MAX_BYTES)
    except CadParseError as exc:
        CAD_PARSE_FAILURES.labels(format=_format_label(exc.context.get("format")), reason=exc.code).inc()
        raise _domain_error(exc) from None
    except ParsePoolUnavailable as exc:
        CAD_PARSE_FAILURES.labels(format="unknown", reason="pool_unavailable").inc()
        raise ServiceUnavailable(str(exc), code="parser_unavailable", stage=STAGE_PARSE,
                                 headers={"Retry-After": "5"}) from None
    seconds = time.perf_counter() - started
    CAD_PARSE_LATENCY.labels(format=document.format).observe(seconds)
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
            )
    except IntegrityError:  # the same content was stored concurrently: use that row
        return IngestResult(cad_file=CadFile.objects.get(sha256=sha256), reused=True, parse_seconds=seconds)
    return IngestResult(cad_file=cad_file, reused=False, parse_seconds=seconds)


def cad_file_features(*, cad_file: CadFile, version: str) -> tuple[list[float], bool]:
    """(values, cache_hit): through the feature cache; a miss is extracted from the stored summary and cached."""
    cached = feature_cache_get(sha256=cad_file.sha256, version=version)
    if cached is not None:
        return [float(v) for v in cached["values"]], True
    started = time.perf_counter()
    values = extract_features(CadDocument.from_dict(cad_file.summary), version)
    FEATURE_EXTRACTION_LATENCY.labels(version=version).observe(time.perf_counter() - started)
    feature_cache_put(sha256=cad_file.sha256, version=version, values=values, document_id=cad_file.pk)
    return values, False


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


def _similar_section(version: str, values: list[float], k: int, vector: dict) -> dict:
    registered = vector.get("registered")
    found = vector_similarity_search(
        feature_version=version,
        vector=values,
        k=k,
        min_generation=vector["generation"] if registered else None,
        exclude_keys=(vector["key"],) if registered else (),
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
) -> Analysis:
    started = time.perf_counter()
    version = feature_version_check(feature_version or settings.CADML_FEATURE_VERSION)
    ingest = cad_file_ingest(data=data, name=name, meta=meta)
    cad_file = ingest.cad_file
    timings: dict[str, float] = {"parse_seconds": ingest.parse_seconds}
    feature_started = time.perf_counter()
    values, cache_hit = cad_file_features(cad_file=cad_file, version=version)
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
            "similar", timings, lambda: _similar_section(version, values, similar_k, sections["vector"]))
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


def cad_file_import(*, path: str, meta: dict | None = None, feature_version: str | None = None) -> dict:
    """Import one file from disk (used by `manage.py ingest`, directly or as a Celery task).

    Returns an outcome instead of raising for a bad file, so a batch can summarise failures by reason:
    `{"status": "created" | "duplicate" | "failed", "path", "code"?, "message"?, "analysis_id"?}`.
    """
    try:
        size = os.path.getsize(path)
        check_size(size, settings.CADML_UPLOAD_MAX_BYTES)
        with open(path, "rb") as handle:
            data = handle.read()
    except CadParseError as exc:
        return {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    except OSError as exc:
        return {"status": "failed", "path": path, "code": "unreadable", "message": str(exc)}
    if CadFile.objects.filter(sha256=hashlib.sha256(data).hexdigest()).exists():
        return {"status": "duplicate", "path": path}
    try:
        analysis = analysis_create(
            data=data, name=os.path.basename(path), feature_version=feature_version,
            register_vector=True, classify=False, similar_k=0, meta=meta,
        )
    except DomainError as exc:
        return {"status": "failed", "path": path, "code": exc.code, "message": exc.message}
    return {"status": "created", "path": path, "analysis_id": analysis.pk, "cad_file_id": analysis.cad_file_id}
