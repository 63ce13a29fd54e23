"""Exact top-k inner-product search in numpy: the degraded path and the referee of the Faiss path."""

from __future__ import annotations

import numpy as np

from vectors.index.hits import TIE_SLACK, Hits, hits_from_rows, ranked

# Upper bound of the score block computed at once (queries x rows x 4 bytes).
BLOCK_BYTES = 32 * 1024 * 1024


def exact_top_k(
    matrix: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, row_mask: np.ndarray | None = None
) -> list[Hits]:
    """Returns the ``k`` best rows of ``matrix`` (normalised float32) for each normalised query.

    ``ids[i]`` is the id of ``matrix[i]``; ``row_mask`` (bool per row) restricts the search to a subset. Scores are
    inner products, i.e. cosine similarities; ties are ordered by id ascending.
    """
    if row_mask is not None:
        rows = np.flatnonzero(row_mask)
        matrix, ids = matrix[rows], ids[rows]
    n, nq = matrix.shape[0], queries.shape[0]
    if n == 0 or k <= 0:
        return [Hits(ids=np.empty(0, np.int64), scores=np.empty(0, np.float32)) for _ in range(nq)]
    keep = min(n, k + TIE_SLACK)
    chunk = max(4096, BLOCK_BYTES // (4 * max(nq, 1)))
    best_scores = np.empty((nq, 0), np.float32)
    best_ids = np.empty((nq, 0), np.int64)
    for start in range(0, n, chunk):
        block = matrix[start:start + chunk]
        block_ids = ids[start:start + chunk]
        scores = queries @ block.T
        width = scores.shape[1]
        if width > keep:
            part = np.argpartition(scores, width - keep, axis=1)[:, width - keep:]
            scores = np.take_along_axis(scores, part, axis=1)
            cand_ids = block_ids[part]
        else:
            cand_ids = np.broadcast_to(block_ids, scores.shape)
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_ids = np.concatenate([best_ids, cand_ids], axis=1)
        if best_scores.shape[1] > keep:
            best_scores, best_ids = ranked(best_scores, best_ids, keep)
    return hits_from_rows(best_scores, best_ids, k)
