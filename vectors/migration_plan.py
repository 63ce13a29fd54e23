"""How one vector moves between feature versions, and the statistics of a whole migration.

Preview (a selector) and apply (a service) both use these functions, so the preview's numbers are the numbers
apply produces (except the deltas of vectors that apply re-parses from their stored original: a preview does not
parse, it only counts them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import ObjectDoesNotExist

from cadml_site.errors import NotFound
from features.extractors import NeedsSource, dimension, extract_features, slot_names
from vectors.index.vector_math import resized

logger = logging.getLogger("cadml.vectors")

METHODS = ("recomputed", "reparsed", "padded", "truncated", "copied", "needs_source")
# Methods whose vector is not carried into the target version (counted, never zero-padded).
SKIPPED = ("needs_source",)


@dataclass(frozen=True)
class MigratedVector:
    values: np.ndarray | None  # None: skipped (needs_source), or a re-parse a preview plans without running it
    method: str
    delta: float | None


def _sha256_of(meta: Any) -> str | None:
    sha256 = meta.get("cad_file") if isinstance(meta, dict) else None
    return sha256 if isinstance(sha256, str) and sha256 else None


def source_document(meta: Any):
    """The stored document summary of the CAD file named by ``meta["cad_file"]``, or None."""
    sha256 = _sha256_of(meta)
    if sha256 is None:
        return None
    from features.selectors import cad_file_document

    try:
        return cad_file_document(sha256=sha256)
    except (NotFound, ObjectDoesNotExist, LookupError):
        return None


def layouts_compatible(from_version: str, to_version: str) -> bool:
    """True when one version's slots begin with the other's (v1..v4 share one layout): zero-padding or truncating
    a vector keeps the meaning of its slots. Between v1..v4 and v5 it does not."""
    a, b = slot_names(from_version), slot_names(to_version)
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _from_original(sha256: str | None, to_version: str, *, reparse: bool) -> tuple[np.ndarray | None, str]:
    """A vector whose summary predates the target version: re-parse its stored original (apply), or only check that
    the original is there (preview)."""
    if sha256 is None:
        return None, "needs_source"
    if not reparse:
        from features.selectors import cad_file_original_stored

        return None, "reparsed" if cad_file_original_stored(sha256=sha256) else "needs_source"
    from features.services import cad_file_features_from_original

    values = cad_file_features_from_original(sha256=sha256, version=to_version)
    if values is None:
        return None, "needs_source"
    return np.asarray(values, dtype=np.float32), "reparsed"


def migrate_vector(values: np.ndarray, meta: Any, *, from_version: str, to_version: str,
                   reparse: bool = True) -> MigratedVector:
    """Recomputes the vector from its stored document when there is one; when that summary predates the target
    version's geometry (v5), from its stored original, parsed again in the parse pool (``reparse``; a preview only
    checks the original is stored). Without a source it is zero-padded or truncated when the layouts are
    compatible, else skipped as ``needs_source`` (never padded into an unrelated layout).

    ``delta`` is the L2 distance between the old vector padded/truncated to the new length and the new vector
    (None when there is no new vector).
    """
    to_dim, from_dim = dimension(to_version), dimension(from_version)
    old = resized(np.asarray(values, dtype=np.float32), to_dim)
    document = source_document(meta)
    new: np.ndarray | None
    if document is not None:
        try:
            new = np.asarray(extract_features(document, to_version), dtype=np.float32)
            method = "recomputed"
        except NeedsSource:
            new, method = _from_original(_sha256_of(meta), to_version, reparse=reparse)
    elif layouts_compatible(from_version, to_version):
        new = old
        method = "padded" if to_dim > from_dim else "truncated" if to_dim < from_dim else "copied"
    else:
        new, method = None, "needs_source"
    if new is None:
        return MigratedVector(values=None, method=method, delta=None)
    delta = float(np.linalg.norm(old.astype(np.float64) - new.astype(np.float64)))
    return MigratedVector(values=new, method=method, delta=delta)


def delta_stats(deltas: list[float]) -> dict[str, float | None]:
    if not deltas:
        return {"avg_delta": None, "median_delta": None, "p50": None, "p90": None, "p99": None}
    array = np.asarray(deltas, dtype=np.float64)
    p50, p90, p99 = (float(v) for v in np.percentile(array, [50, 90, 99]))
    return {"avg_delta": float(array.mean()), "median_delta": float(np.median(array)), "p50": p50, "p90": p90,
            "p99": p99}


def migration_summary(*, from_version: str, to_version: str, methods: list[str],
                      deltas: list[float | None]) -> dict[str, Any]:
    """Counts, dimension delta, delta statistics and warnings of a set of migrated vectors."""
    from_dim, to_dim = dimension(from_version), dimension(to_version)
    counts = {"total": len(methods), "recomputable": methods.count("recomputed"),
              "reparsed": methods.count("reparsed"), "padded": methods.count("padded"),
              "truncated": methods.count("truncated"), "copied": methods.count("copied"),
              "needs_source": methods.count("needs_source")}
    warnings = []
    if counts["needs_source"]:
        warnings.append(f"{counts['needs_source']} vectors are skipped (needs_source): {to_version} is computed from "
                        f"the file's geometry and their original file is not stored (uploaded before originals were "
                        f"kept, or registered without a file). They are not zero-padded; {to_version} holds them "
                        f"once their files are uploaded again (analyze).")
    if counts["reparsed"]:
        warnings.append(f"{counts['reparsed']} vectors are computed by parsing their stored original again in the "
                        f"parse pool (their stored summary predates {to_version}); a preview gives no delta for them.")
    if counts["padded"]:
        warnings.append(f"{counts['padded']} vectors have no stored source document and are zero-padded from "
                        f"{from_dim} to {to_dim} slots: the new slots are 0, not measured.")
    if to_dim < from_dim:
        warnings.append(f"Downgrade: {from_dim - to_dim} slots are dropped ({from_dim} -> {to_dim}).")
    if counts["copied"] and from_version != to_version:
        warnings.append(f"{counts['copied']} vectors without a stored source document are copied unchanged.")
    return {"from": from_version, "to": to_version, "dimension_from": from_dim, "dimension_to": to_dim,
            "dimension_delta": to_dim - from_dim, "counts": counts,
            "stats": delta_stats([d for d in deltas if d is not None]),
            "warnings": warnings}
