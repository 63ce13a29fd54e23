"""Reads of the features app (also the cross-app entry points used by vectors and cachectl)."""

from __future__ import annotations

from cadml_site.api.exceptions import NotFound
from features.extractors import FEATURE_VERSIONS, check_version, dimension, extract_features, slots
from features.models import Analysis, CadFile
from features.parsers.document import CadDocument


def cad_file_document(*, sha256: str) -> CadDocument | None:
    """The stored document summary of a CAD file, or None when that content was never parsed."""
    row = CadFile.objects.filter(sha256=sha256).only("summary").first()
    return None if row is None else CadDocument.from_dict(row.summary)


def stored_features(*, sha256: str, version: str) -> dict | None:
    """`{"values", "document_id"}` for a stored CAD file, recomputed from its summary; None when unknown."""
    check_version(version)
    row = CadFile.objects.filter(sha256=sha256).only("id", "summary").first()
    if row is None:
        return None
    return {"values": extract_features(CadDocument.from_dict(row.summary), version), "document_id": row.pk}


def analysis_get(*, analysis_id: int) -> Analysis:
    analysis = Analysis.objects.select_related("cad_file").filter(pk=analysis_id).first()
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} does not exist", code="analysis_not_found", stage="features",
                       context={"id": analysis_id})
    return analysis


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
