"""Reads of the features app (also the cross-app entry points used by vectors and cachectl)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.files.base import File
from django.db import connection
from django.db.models.fields.json import KT

from cadml_site.errors import NotFound, ServiceUnavailable
from cadml_site.model_rows import model_instances, model_rows, model_select
from cadml_site.statement_parts import StatementPart
from features.extractors import FEATURE_VERSIONS, NeedsSource, check_version, dimension, extract_features, slots
from features.extractors.v5_match import handedness_of
from features.models import CadFile
from features.originals import STORAGE_ERRORS, original_open
from features.parsers.document import CadDocument

logger = logging.getLogger("cadml.features")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# IANA media types of the formats (model/obj registered in 2022; DXF under image/vnd.dxf).
MEDIA_TYPES = {"dxf": "image/vnd.dxf", "stl": "model/stl", "step": "model/step", "iges": "model/iges",
               "obj": "model/obj"}


def cad_file_by_sha256(*, sha256: str) -> CadFile | None:
    """The row of one content, or None. sha256 is unique: no ORDER BY, ``LIMIT 1``; read by ``model_rows`` (every
    analyze asks: the queryset's compilation cost twice the round trip)."""
    return next(iter(model_rows(CadFile, where={"sha256": sha256}, limit=1)), None)


def cad_file_lookup_parts(*, sha256: str, row: str, with_original: str,
                          row_id: int | None = None) -> list[StatementPart]:
    """`cad_file_by_sha256` as two parts of one statement (`cadml_site.statement_parts`): `row`, the content's row
    (every column, in field order: `cad_file_of_row` reads it back) or none; `with_original`, a relation of one column,
    `id`, holding that row's id when the row keeps its original (a row stored before originals were kept has none)
    and, with `row_id`, only when the row is still the one of that id (`features.file_facts`)."""
    quote = connection.ops.quote_name
    meta = CadFile._meta
    sql, params = model_select(CadFile, where={"sha256": sha256}, limit=1)
    pk, original = quote(meta.pk.column), quote(meta.get_field("original_key").column)
    kept = f"SELECT {pk} AS id FROM {row} WHERE {original} <> ''"
    return [StatementPart(name=row, sql=sql, params=params),
            StatementPart(name=with_original, sql=kept if row_id is None else f"{kept} AND {pk} = %s",
                          params=[] if row_id is None else [row_id])]


def cad_file_of_row(row) -> CadFile:
    """The CadFile whose columns lead `row` (a row of `cad_file_lookup_parts`' `row` part; later columns ignored)."""
    return model_instances(CadFile, [row])[0]


def cad_file_document(*, sha256: str) -> CadDocument | None:
    """The stored document summary of a CAD file, or None when that content was never parsed."""
    row = CadFile.objects.filter(sha256=sha256).only("summary").first()
    return None if row is None else CadDocument.from_dict(row.summary)


def stored_features(*, sha256: str, version: str) -> dict | None:
    """`{"values", "document_id"}` for a stored CAD file, recomputed from its summary; None when unknown, or when
    the summary predates the version's geometry (v5 of a row stored before v5: only a re-parse of the original,
    `features.services.cad_file_reparse`, can compute it)."""
    check_version(version)
    row = CadFile.objects.filter(sha256=sha256).only("id", "summary").first()
    if row is None:
        return None
    try:
        values = extract_features(CadDocument.from_dict(row.summary), version)
    except NeedsSource:
        return None
    return {"values": values, "document_id": row.pk}


def cad_file_handedness(*, sha256s) -> dict[str, int]:
    """The handedness of the stored shape descriptors of these files (+1/-1, 0 undetermined), read from the
    summaries in one query; a file whose descriptor predates handedness (or has none) is left out: unknown."""
    wanted = {sha for sha in sha256s if isinstance(sha, str) and sha}
    if not wanted:
        return {}
    rows = (CadFile.objects.filter(sha256__in=wanted).annotate(handedness=KT("summary__shape__handedness"))
            .values_list("sha256", "handedness"))
    out = {}
    for sha256, value in rows:
        hand = _handedness(value)
        if hand is not None:
            out[sha256] = hand
    return out


def _handedness(value) -> int | None:
    try:
        return handedness_of(int(str(value)))
    except (TypeError, ValueError):
        return None  # absent (None) or not an integer: unknown


def summary_handedness(summary: dict) -> int | None:
    """The handedness of a summary's shape descriptor (a row not stored yet), as `cad_file_handedness` reads it from a
    stored one: +1/-1, 0 undetermined, None unknown."""
    shape = summary.get("shape") if isinstance(summary, dict) else None
    return _handedness(shape.get("handedness")) if isinstance(shape, dict) else None


def cad_file_original_stored(*, sha256: str) -> bool:
    """Cross-app (vectors' migration preview): the file is known and its original is kept."""
    return CadFile.objects.filter(sha256=sha256).exclude(original_key="").exists()


def feature_version_list(*, default: str) -> list[dict]:
    """Every version with its dimension and the slots it adds (v5 has a layout of its own: all its slots)."""
    previous = 0
    out = []
    for version in FEATURE_VERSIONS:
        size = dimension(version)
        added = size if version == "v5" else size - previous
        out.append({"version": version, "dimension": size, "added_slots": added, "default": version == default})
        previous = size
    return out


def feature_slot_list(*, version: str) -> list[dict]:
    return [
        {"name": slot.name, "category": slot.category, "version": slot.version, "index": slot.index}
        for slot in slots(version)
    ]


@dataclass(frozen=True)
class StoredOriginal:
    cad_file: CadFile
    handle: File  # opened for binary reading; the caller (a streaming response) closes it
    content_type: str
    filename: str


def _original_not_found(sha256: str, message: str, code: str) -> NotFound:
    return NotFound(message, code=code, stage="originals", context={"sha256": sha256[:64]})


def cad_file_get(*, sha256: str) -> CadFile:
    """The CadFile of a content hash (64 hex digits, any case); 404 `cad_file_not_found` otherwise."""
    digest = sha256.lower() if isinstance(sha256, str) else ""
    row = cad_file_by_sha256(sha256=digest) if _SHA256.fullmatch(digest) else None
    if row is None:
        raise _original_not_found(str(sha256), "No CAD file with this sha256 was uploaded.", "cad_file_not_found")
    return row


def cad_file_original(*, sha256: str) -> StoredOriginal:
    """The uploaded original of a CAD file, opened from the cad_originals storage.

    404 `cad_file_not_found` (unknown content), 404 `original_not_stored` (a file uploaded before originals were
    kept, or whose stored object has gone), 503 `original_storage_unavailable` (the storage failed to answer).
    """
    cad_file = cad_file_get(sha256=sha256)
    if not cad_file.has_original:
        raise _original_not_found(cad_file.sha256, "This file was uploaded before originals were kept; upload it "
                                  "again to store it.", "original_not_stored")
    try:
        handle = original_open(cad_file.original_key)
    except FileNotFoundError:
        logger.error("original of %s recorded at %r is missing from the storage", cad_file.sha256[:12],
                     cad_file.original_key)
        raise _original_not_found(cad_file.sha256, "The stored original is missing from the storage; upload the "
                                  "file again to store it.", "original_not_stored") from None
    except STORAGE_ERRORS as exc:
        logger.warning("original of %s not readable: %s: %s", cad_file.sha256[:12], type(exc).__name__, exc)
        raise ServiceUnavailable("The originals storage could not be read.", code="original_storage_unavailable",
                                 stage="originals", context={"sha256": cad_file.sha256},
                                 headers={"Retry-After": "5"}) from None
    filename = cad_file.original_name or f"{cad_file.sha256}.{cad_file.format}"
    return StoredOriginal(cad_file=cad_file, handle=handle,
                          content_type=MEDIA_TYPES.get(cad_file.format, "application/octet-stream"),
                          filename=filename)


THUMBNAIL_MEDIA_TYPE = "image/png"


def thumbnail_etag(cad_file: CadFile) -> str:
    return f'"{cad_file.sha256}.thumb"'


def cad_file_thumbnail(*, sha256: str) -> StoredOriginal:
    """The rendered PNG thumbnail of a CAD file, opened from the cad_originals storage.

    404 `cad_file_not_found` (unknown content), 404 `thumbnail_not_ready` (not rendered yet, not renderable or its
    original is not stored: `context.reason`), 503 `original_storage_unavailable`.
    """
    cad_file = cad_file_get(sha256=sha256)
    if not cad_file.has_thumbnail:
        reason = ("original_not_stored" if not cad_file.has_original
                  else "render_failed" if cad_file.thumbnail_error else "pending")
        raise NotFound("No thumbnail of this file yet." if reason == "pending" else
                       "This file has no thumbnail: " + reason.replace("_", " ") + ".",
                       code="thumbnail_not_ready", stage="thumbnails",
                       context={"sha256": cad_file.sha256, "reason": reason})
    try:
        handle = original_open(cad_file.thumbnail_key)
    except FileNotFoundError:
        logger.error("thumbnail of %s recorded at %r is missing", cad_file.sha256[:12], cad_file.thumbnail_key)
        raise NotFound("The thumbnail is missing from the storage.", code="thumbnail_not_ready", stage="thumbnails",
                       context={"sha256": cad_file.sha256, "reason": "missing"}) from None
    except STORAGE_ERRORS as exc:
        logger.warning("thumbnail of %s not readable: %s: %s", cad_file.sha256[:12], type(exc).__name__, exc)
        raise ServiceUnavailable("The originals storage could not be read.", code="original_storage_unavailable",
                                 stage="originals", context={"sha256": cad_file.sha256},
                                 headers={"Retry-After": "5"}) from None
    return StoredOriginal(cad_file=cad_file, handle=handle, content_type=THUMBNAIL_MEDIA_TYPE,
                          filename=f"{cad_file.sha256}.thumb.png")


def cad_files_without_thumbnail(*, include_failed: bool = False):
    """Stored files (with an original) that have no thumbnail: what `render_thumbnails` backfills."""
    rows = CadFile.objects.exclude(original_key="").filter(thumbnail_key="")
    if not include_failed:
        rows = rows.filter(thumbnail_error="")
    return rows.order_by("id")


# ---- the search page (people, behind the login) --------------------------------------------------------------------

def cad_file_search_by_name(*, query: str, limit: int = 20) -> list[CadFile]:
    """Stored files whose name contains `query` (any case), or whose sha256 starts with it; newest first."""
    from django.db.models import Q

    query = (query or "").strip()
    if not query:
        return []
    condition = Q(original_name__icontains=query)
    if re.fullmatch(r"[0-9a-fA-F]{6,64}", query):
        condition |= Q(sha256__startswith=query.lower())
    return list(CadFile.objects.filter(condition).order_by("-created_at", "-id")[:limit])


def recent_cad_files(*, limit: int = 12) -> list[CadFile]:
    return list(CadFile.objects.order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class FoundPart:
    key: str
    score: float
    match: str  # exact, duplicate, same_shape_other_scale, similar
    scale_factor: float | None
    unit_mismatch_suspected: bool
    cad_file: CadFile | None  # None: the vector names no stored file (registered by vector, not by upload)
    name: str
    format: str


def found_parts(results: list[dict]) -> list[FoundPart]:
    """Similarity results (v5: with their match kinds) joined to their stored files (`meta.cad_file`)."""
    digests = {str((r.get("meta") or {}).get("cad_file", "")) for r in results}
    files = {row.sha256: row for row in CadFile.objects.filter(sha256__in=digests)}
    out = []
    for result in results:
        meta = result.get("meta") or {}
        row = files.get(str(meta.get("cad_file", "")))
        out.append(FoundPart(
            key=result["key"], score=float(result["score"]), match=result.get("match") or "similar",
            scale_factor=result.get("scale_factor"),
            unit_mismatch_suspected=bool(result.get("unit_mismatch_suspected")), cad_file=row,
            name=(row.original_name if row is not None else "") or str(meta.get("name", "")) or result["key"],
            format=row.format if row is not None else str(meta.get("format", "")),
        ))
    return out
