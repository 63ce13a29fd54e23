"""How one vector moves between feature versions, and the statistics of a whole migration.

Preview (a selector) and apply (a service) both use these functions, so the preview's numbers are the numbers
apply produces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import ObjectDoesNotExist

from cadml_site.api.exceptions import NotFound
from features.extractors import dimension, extract_features
from vectors.index.vector_math import resized

logger = logging.getLogger("cadml.vectors")

METHODS = ("recomputed", "padded", "truncated", "copied")


@dataclass(frozen=True)
class MigratedVector:
    values: np.ndarray
    method: str
    delta: float


def source_document(meta: Any):
    """The stored document summary of the CAD file named by ``meta["cad_file"]``, or None."""
    sha256 = meta.get("cad_file") if isinstance(meta, dict) else None
    if not isinstance(sha256, str) or not sha256:
        return None
    from features.selectors import cad_file_document

    try:
        return cad_file_document(sha256=sha256)
    except (NotFound, ObjectDoesNotExist, LookupError):
        return None


def migrate_vector(values: np.ndarray, meta: Any, *, from_version: str, to_version: str) -> MigratedVector:
    """Recomputes the vector from its stored document when there is one, else zero-pads or truncates it.

    ``delta`` is the L2 distance between the old vector padded/truncated to the new length and the new vector.
    """
    to_dim, from_dim = dimension(to_version), dimension(from_version)
    old = resized(np.asarray(values, dtype=np.float32), to_dim)
    document = source_document(meta)
    if document is not None:
        new = np.asarray(extract_features(document, to_version), dtype=np.float32)
        method = "recomputed"
    else:
        new = old
        method = "padded" if to_dim > from_dim else "truncated" if to_dim < from_dim else "copied"
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
                      deltas: list[float]) -> dict[str, Any]:
    """Counts, dimension delta, delta statistics and warnings of a set of migrated vectors."""
    from_dim, to_dim = dimension(from_version), dimension(to_version)
    counts = {"total": len(methods), "recomputable": methods.count("recomputed"),
              "padded": methods.count("padded"), "truncated": methods.count("truncated"),
              "copied": methods.count("copied")}
    warnings = []
    if counts["padded"]:
        warnings.append(f"{counts['padded']} vectors have no stored source document and are zero-padded from "
                        f"{from_dim} to {to_dim} slots: the new slots are 0, not measured.")
    if to_dim < from_dim:
        warnings.append(f"Downgrade: {from_dim - to_dim} slots are dropped ({from_dim} -> {to_dim}).")
    if counts["copied"] and from_version != to_version:
        warnings.append(f"{counts['copied']} vectors without a stored source document are copied unchanged.")
    return {"from": from_version, "to": to_version, "dimension_from": from_dim, "dimension_to": to_dim,
            "dimension_delta": to_dim - from_dim, "counts": counts, "stats": delta_stats(deltas),
            "warnings": warnings}
