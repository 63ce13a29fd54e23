"""Faiss-backed vector stores with our own int64 ids.

* ``flat``: ``IndexIDMap(IndexFlatIP)`` over L2-normalised float32 vectors: exact inner product = cosine.
* ``hnsw``: ``IndexHNSWFlat`` (inner product) above a configurable size. HNSW cannot remove vectors, so the store
  keeps its own position -> id array and an "alive" mask: a deleted or replaced vector's old position is masked out
  of every search with an ``IDSelectorBitmap`` and the new version is appended.

Both expose zero-copy numpy views of the stored vectors and ids, so the exact numpy path (filtered subsets, tie
resolution, the degraded fallback) needs no second copy of the data.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from vectors.index.errors import FaissUnavailableError
from vectors.index.exact_search import exact_top_k
from vectors.index.hits import TIE_SLACK, Hits, hits_from_rows

# Filtered HNSW searches over at most this many allowed vectors are answered exactly (cheaper and complete).
SMALL_SUBSET = 4096


@dataclass(frozen=True)
class IndexConfig:
    """Index knobs: HNSW is used for versions with at least ``hnsw_threshold`` vectors."""

    hnsw_threshold: int = 500_000
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 64


def import_faiss() -> ModuleType:
    """Imports faiss, turning any import failure into ``FaissUnavailableError``."""
    try:
        return importlib.import_module("faiss")
    except Exception as exc:  # ImportError, or a broken native library raising anything else
        raise FaissUnavailableError(f"faiss cannot be imported: {exc!r}") from exc


class FaissStore:
    """One feature version's vectors in a Faiss index."""

    def __init__(self, faiss: ModuleType, kind: str, index, dimension: int, config: IndexConfig,
                 ids: np.ndarray | None = None, alive: np.ndarray | None = None):
        self.faiss = faiss
        self.kind = kind
        self.index = index
        self.dimension = dimension
        self.config = config
        self._ids = ids  # hnsw only: position -> id
        self._alive = alive  # hnsw only
        if kind == "hnsw":
            self.index.hnsw.efSearch = config.hnsw_ef_search

    # ---- construction ---------------------------------------------------------------------------------------
    @classmethod
    def build(cls, faiss: ModuleType, dimension: int, ids: np.ndarray, vectors: np.ndarray,
              config: IndexConfig) -> FaissStore:
        """Builds a store from normalised vectors; HNSW when there are at least ``config.hnsw_threshold``."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape[0] >= config.hnsw_threshold:
            index = faiss.IndexHNSWFlat(dimension, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.hnsw_ef_construction
            if ids.shape[0]:
                index.add(vectors)
            return cls(faiss, "hnsw", index, dimension, config, ids=ids.copy(),
                       alive=np.ones(ids.shape[0], dtype=bool))
        index = faiss.IndexIDMap(faiss.IndexFlatIP(dimension))
        if ids.shape[0]:
            index.add_with_ids(vectors, ids)
        return cls(faiss, "flat", index, dimension, config)

    @classmethod
    def from_bytes(cls, faiss: ModuleType, kind: str, index_bytes: bytes, ids: np.ndarray, dimension: int,
                   config: IndexConfig) -> FaissStore:
        """Restores a store written by ``to_bytes``."""
        index = faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
        if kind == "hnsw":
            return cls(faiss, kind, index, dimension, config, ids=np.array(ids, dtype=np.int64),
                       alive=np.ones(ids.shape[0], dtype=bool))
        store = cls(faiss, kind, index, dimension, config)
        if not np.array_equal(store.view()[1], ids):
            raise ValueError("the ids of the flat index differ from the snapshot's id list")
        return store

    def to_bytes(self) -> tuple[bytes, np.ndarray]:
        """Serialises the index and returns it with the ids of its alive vectors (HNSW must be compact)."""
        matrix, ids, alive = self.view()
        if alive is not None and not alive.all():
            raise ValueError("an HNSW store with removed vectors must be rebuilt before it is serialised")
        return self.faiss.serialize_index(self.index).tobytes(), np.array(ids, dtype=np.int64)

    # ---- state --------------------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        if self.kind == "hnsw":
            return int(self._alive.sum())
        return int(self.index.ntotal)

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Zero-copy (vectors, ids, alive mask or None) of the stored data; valid until the next ``apply``."""
        n, d = int(self.index.ntotal), self.dimension
        if n == 0:
            return np.empty((0, d), np.float32), np.empty(0, np.int64), None
        if self.kind == "hnsw":
            flat = self.faiss.downcast_index(self.index.storage)
            matrix = self.faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
            return matrix, self._ids, (None if self._alive.all() else self._alive)
        flat = self.faiss.downcast_index(self.index.index)
        matrix = self.faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
        ids = self.faiss.rev_swig_ptr(self.index.id_map.data(), n)
        return matrix, ids, None

    # ---- writes ---------------------------------------------------------------------------------------------
    def apply(self, *, remove_ids: np.ndarray, add_ids: np.ndarray, add_vectors: np.ndarray) -> None:
        """Removes ``remove_ids`` (deleted or replaced vectors) and adds the given normalised vectors."""
        remove_ids = np.asarray(remove_ids, dtype=np.int64)
        add_ids = np.ascontiguousarray(add_ids, dtype=np.int64)
        if self.kind == "hnsw":
            if remove_ids.size:
                self._alive &= ~np.isin(self._ids, remove_ids)
            if add_ids.size:
                self.index.add(add_vectors)
                self._ids = np.concatenate([self._ids, add_ids])
                self._alive = np.concatenate([self._alive, np.ones(add_ids.shape[0], dtype=bool)])
            return
        if remove_ids.size:
            self.index.remove_ids(remove_ids)
        if add_ids.size:
            self.index.add_with_ids(add_vectors, add_ids)

    # ---- search ---------------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[Hits]:
        """Top-k per query, restricted to ``allowed_ids`` when given; returns k hits whenever k such vectors exist."""
        if self.kind == "hnsw":
            return self._search_hnsw(queries, k, allowed_ids)
        ntotal = int(self.index.ntotal)
        fetch = min(k + TIE_SLACK, ntotal)
        if fetch <= 0:
            return [Hits(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(queries.shape[0])]
        if allowed_ids is None:
            scores, labels = self.index.search(queries, fetch)
        else:
            selector = self.faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            params = self.faiss.SearchParameters(sel=selector)
            scores, labels = self.index.search(queries, fetch, params=params)
        return hits_from_rows(scores, labels, k)

    def _search_hnsw(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> list[Hits]:
        matrix, ids, alive = self.view()
        mask = alive
        if allowed_ids is not None:
            allowed = np.isin(ids, allowed_ids)
            mask = allowed if mask is None else (allowed & mask)
        available = ids.shape[0] if mask is None else int(mask.sum())
        fetch = min(k + TIE_SLACK, available)
        if fetch <= 0:
            return [Hits(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(queries.shape[0])]
        if mask is not None and available <= SMALL_SUBSET:
            return exact_top_k(matrix, ids, queries, k, row_mask=mask)
        params = self.faiss.SearchParametersHNSW()
        params.efSearch = max(self.config.hnsw_ef_search, fetch)
        if mask is not None:
            bitmap = np.packbits(mask, bitorder="little")
            selector = self.faiss.IDSelectorBitmap(mask.shape[0], self.faiss.swig_ptr(bitmap))
            params.sel = selector
        scores, positions = self.index.search(queries, fetch, params=params)
        labels = np.where(positions >= 0, ids[np.clip(positions, 0, None)], -1)
        hits = hits_from_rows(scores, labels, k)
        wanted = min(k, available)
        if any(len(h) < wanted for h in hits):  # graph search ran out of reachable allowed vectors
            short = [i for i, h in enumerate(hits) if len(h) < wanted]
            exact = exact_top_k(matrix, ids, queries[short], k, row_mask=mask)
            for i, h in zip(short, exact):
                hits[i] = h
        return hits
