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
from typing import Any, Callable


from analysis.models import Analysis
from cachectl.services import feature_cache_get, feature_cache_put
from cadml_site.errors import DomainError
from features.models import CadFile
from features.originals import STORAGE_ERRORS, original_key, original_read
from features.parsers.errors import CadParseError
from features.selectors import cad_file_by_sha256
from features.services import (
    cad_file_features,
    cad_file_ingest,
    cad_file_original_backfill,
    feature_version_check,
    original_discard_unreferenced,
    original_store,
    upload_size_check,
)
from modelops.errors import FeatureVersionMismatch
from modelops.selectors import classify_vector
from vectors.selectors import served_feature_version, similarity_options_check, vector_similarity_search
from vectors.services import vector_upsert

logger = logging.getLogger("cadml.analysis")


def cad_file_features_cached(*, cad_file: CadFile, version: str,
                             data: bytes | None = None) -> tuple[list[float], bool]:
    """(values, cache_hit): through the feature cache; a miss is computed by `features.services.cad_file_features`
    (from the stored summary, re-parsed first when it predates the version's geometry) and cached."""
    cached = feature_cache_get(sha256=cad_file.sha256, version=version)
    if cached is not None:
        return [float(v) for v in cached["values"]], True
    values = cad_file_features(cad_file=cad_file, version=version, data=data)
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
    """Analyze one CAD file: parse it (once per content), compute its features in `feature_version` (default: the
    served version), then the cross-app sections: register the vector, list similar parts, classify. A section
    that fails is recorded as an error section (`_timed_section`); the parse and the features raise."""
    started = time.perf_counter()
    version = feature_version_check(feature_version or served_feature_version())
    similarity_options_check(feature_version=version, match=match, mirror=mirror)  # before the parse
    ingest = cad_file_ingest(data=data, name=name, meta=meta)
    cad_file = ingest.cad_file
    timings: dict[str, float] = {"parse_seconds": ingest.parse_seconds}
    feature_started = time.perf_counter()
    values, cache_hit = cad_file_features_cached(cad_file=cad_file, version=version, data=data)
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
