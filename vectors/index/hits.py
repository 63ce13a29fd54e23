"""Search results and the one ordering every backend uses: score descending, then id ascending."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Extra candidates fetched beyond k so that equal scores at the cut are ordered by id in every backend.
TIE_SLACK = 8


@dataclass(frozen=True)
class Hits:
    """The ranked hits of one query: ``ids[i]`` has cosine similarity ``scores[i]``."""

    ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def ranked(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Orders each row of (q, m) candidates by score descending then id ascending and keeps the first ``k``."""
    order = np.lexsort((ids, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def hits_from_rows(scores: np.ndarray, ids: np.ndarray, k: int) -> list[Hits]:
    """Turns (q, m) candidate arrays (label -1 marks an empty slot) into ranked, trimmed per-query hits."""
    valid = ids >= 0
    scores = np.where(valid, scores, -np.inf).astype(np.float32)
    ids = np.where(valid, ids, np.iinfo(np.int64).max)
    scores, ids = ranked(scores, ids, k)
    out = []
    for row_scores, row_ids in zip(scores, ids):
        keep = np.isfinite(row_scores)
        out.append(Hits(ids=row_ids[keep].astype(np.int64), scores=row_scores[keep].astype(np.float32)))
    return out
