"""The numpy store: exact search over vectors held in process memory (the degraded backend)."""

from __future__ import annotations

import numpy as np

from vectors.index.exact_search import exact_top_k
from vectors.index.hits import Hits


class MemoryStore:
    """Normalised vectors and their ids in two numpy arrays, searched exactly."""

    kind = "memory"

    def __init__(self, dimension: int, ids: np.ndarray, vectors: np.ndarray):
        self.dimension = dimension
        self._ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)

    @property
    def count(self) -> int:
        return int(self._ids.shape[0])

    def view(self) -> tuple[np.ndarray, np.ndarray, None]:
        return self._matrix, self._ids, None

    def apply(self, *, remove_ids: np.ndarray, add_ids: np.ndarray, add_vectors: np.ndarray) -> None:
        if np.asarray(remove_ids).size:
            keep = ~np.isin(self._ids, remove_ids)
            self._ids, self._matrix = self._ids[keep], self._matrix[keep]
        if np.asarray(add_ids).size:
            self._ids = np.concatenate([self._ids, np.asarray(add_ids, dtype=np.int64)])
            self._matrix = np.concatenate([self._matrix, np.asarray(add_vectors, dtype=np.float32)])

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[Hits]:
        mask = None if allowed_ids is None else np.isin(self._ids, allowed_ids)
        return exact_top_k(self._matrix, self._ids, queries, k, row_mask=mask)
