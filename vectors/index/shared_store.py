"""A verified snapshot served read-only from the page cache, plus this process's changes since the snapshot.

Every process that loads the same snapshot maps the same file (``faiss.IO_FLAG_MMAP_IFC | IO_FLAG_READ_ONLY`` for
the index, ``numpy.memmap`` for the ids), so the vectors are held once per host, not once per worker: the kernel
shares the file's pages and /proc/PID/smaps_rollup divides them among the processes (PSS).

What is shared and what is private, per index kind:

* ``flat`` (``IndexFlatIP`` under ``IndexIDMap``): the vectors (``4 * d`` bytes each) and the ids file (8 bytes
  each) are shared. The ``IndexIDMap`` reads its own copy of the ids, which is checked against the ids file and
  released at once (the store searches the ``IndexFlatIP`` by position).
* ``hnsw`` (``IndexHNSWFlat``): the vectors, the graph's neighbour lists (the bulk of the graph) and the ids are
  shared; Faiss reads the graph's per-vector levels and offsets (12 bytes a vector) into private memory.
* per process, for every kind: an "alive" mask over the snapshot's vectors (one byte each, allocated at the first
  removal; HNSW always has one) and a small flat index of the vectors added or replaced since the snapshot.
* the numpy fallback (``MemoryStore``, the degraded backend) is built from the database rows, not from a snapshot
  (degraded means the snapshot or Faiss is not trusted): it is private to each process.

The mapped files are never written: removals only clear the alive mask and additions go to the private index (a
write through Faiss to a mapped vector is refused by a Faiss assertion that aborts the process, so none is made).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from vectors.index.errors import SnapshotCorruptError
from vectors.index.faiss_store import FaissStore, IndexConfig
from vectors.index.hits import TIE_SLACK, Hits, hits_from_rows, ranked
from vectors.index.snapshot import VerifiedSnapshot

MAP_FLAGS_NAMES = ("IO_FLAG_MMAP_IFC", "IO_FLAG_READ_ONLY")
_FLAT_ONLY = IndexConfig(hnsw_threshold=2**62)


def _empty_hits(count: int) -> list[Hits]:
    return [Hits(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(count)]


class SharedSnapshotStore:
    """Same interface as ``FaissStore`` for the holder: ``kind``, ``count``, ``apply``, ``search``."""

    shared = True

    def __init__(self, faiss: ModuleType, kind: str, base_index, base_ids: np.ndarray, dimension: int,
                 config: IndexConfig):
        self.faiss = faiss
        self.kind = kind
        self.dimension = dimension
        self.config = config
        self._base_ids = base_ids
        self._base_index = base_index  # flat: the IndexIDMap; hnsw: the IndexHNSWFlat (never written)
        # flat: searched through its IndexFlatIP, by position (the IndexIDMap keeps it alive)
        self._positional = faiss.downcast_index(base_index.index) if kind == "flat" else base_index
        self._alive: np.ndarray | None = None  # flat: allocated at the first removal from the snapshot
        self._hnsw = (FaissStore(faiss, "hnsw", base_index, dimension, config, ids=base_ids,
                                 alive=np.ones(base_ids.shape[0], dtype=bool)) if kind == "hnsw" else None)
        self._delta = FaissStore.build(faiss, dimension, np.empty(0, np.int64),
                                       np.empty((0, dimension), np.float32), _FLAT_ONLY)

    @classmethod
    def open(cls, faiss: ModuleType, snapshot: VerifiedSnapshot, dimension: int,
             config: IndexConfig) -> SharedSnapshotStore:
        """Maps a verified snapshot; raises ``SnapshotCorruptError`` when it does not load or does not match."""
        manifest = snapshot.manifest
        flags = 0
        for name in MAP_FLAGS_NAMES:
            flags |= getattr(faiss, name)
        ids = np.memmap(snapshot.ids_path, dtype="<i8", mode="r", shape=(manifest.count,)) if manifest.count \
            else np.empty(0, np.int64)
        try:
            index = faiss.read_index(str(snapshot.index_path), flags)
        except Exception as exc:
            raise SnapshotCorruptError(f"snapshot does not load: {exc!r}") from exc
        if index.ntotal != manifest.count or index.d != dimension:
            raise SnapshotCorruptError(f"snapshot index holds {index.ntotal} x {index.d}, manifest "
                                       f"{manifest.count} x {dimension}")
        if manifest.kind == "flat":
            if not isinstance(index, faiss.IndexIDMap):
                raise SnapshotCorruptError(f"flat snapshot holds a {type(index).__name__}")
            mapped_ids = (faiss.rev_swig_ptr(index.id_map.data(), manifest.count) if manifest.count
                          else np.empty(0, np.int64))
            if not np.array_equal(mapped_ids, ids):
                raise SnapshotCorruptError("the ids of the flat index differ from the snapshot's id list")
            del mapped_ids
            # The IndexIDMap's private copy of the ids (8 bytes a vector) is released: this store searches the
            # IndexFlatIP by position and maps positions through the shared ids file. The emptied IndexIDMap is
            # never searched (its id map no longer matches ntotal); it only keeps the IndexFlatIP alive.
            released = faiss.Int64Vector()
            index.id_map.swap(released)
            del released
            return cls(faiss, "flat", index, ids, dimension, config)
        if manifest.kind == "hnsw":
            if not isinstance(index, faiss.IndexHNSWFlat):
                raise SnapshotCorruptError(f"hnsw snapshot holds a {type(index).__name__}")
            return cls(faiss, "hnsw", index, ids, dimension, config)
        raise SnapshotCorruptError(f"unknown snapshot kind {manifest.kind!r}")

    # ---- state --------------------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        if self._hnsw is not None:
            base = self._hnsw.count
        else:
            base = int(self._base_ids.shape[0]) if self._alive is None else int(self._alive.sum())
        return base + self._delta.count

    @property
    def delta_count(self) -> int:
        """Vectors held privately by this process (added or replaced since the snapshot)."""
        return self._delta.count

    # ---- writes: never to the mapped snapshot -------------------------------------------------------------------
    def apply(self, *, remove_ids: np.ndarray, add_ids: np.ndarray, add_vectors: np.ndarray) -> None:
        remove_ids = np.asarray(remove_ids, dtype=np.int64)
        add_ids = np.ascontiguousarray(add_ids, dtype=np.int64)
        nothing = np.empty(0, np.int64)
        if remove_ids.size:
            if self._hnsw is not None:
                self._hnsw.apply(remove_ids=remove_ids, add_ids=nothing, add_vectors=add_vectors[:0])
            else:
                hit = np.isin(self._base_ids, remove_ids)
                if hit.any():
                    if self._alive is None:
                        self._alive = np.ones(self._base_ids.shape[0], dtype=bool)
                    self._alive &= ~hit
            if self._delta.count:
                self._delta.apply(remove_ids=remove_ids, add_ids=nothing, add_vectors=add_vectors[:0])
        if add_ids.size:
            self._delta.apply(remove_ids=nothing, add_ids=add_ids, add_vectors=add_vectors)

    # ---- search ---------------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[Hits]:
        base = self._search_base(queries, k, allowed_ids)
        if not self._delta.count:
            return base
        delta = self._delta.search(queries, k, allowed_ids)
        merged = []
        for a, b in zip(base, delta):
            scores, ids = ranked(np.concatenate([a.scores, b.scores])[None, :],
                                 np.concatenate([a.ids, b.ids])[None, :], k)
            merged.append(Hits(ids=ids[0].astype(np.int64), scores=scores[0].astype(np.float32)))
        return merged

    def _search_base(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> list[Hits]:
        if self._hnsw is not None:
            return self._hnsw.search(queries, k, allowed_ids)
        n = int(self._base_ids.shape[0])
        mask = self._alive
        if allowed_ids is not None:
            allowed = np.isin(self._base_ids, allowed_ids)
            mask = allowed if mask is None else (allowed & mask)
        available = n if mask is None else int(mask.sum())
        fetch = min(k + TIE_SLACK, available)
        if fetch <= 0:
            return _empty_hits(queries.shape[0])
        if mask is None:
            scores, positions = self._positional.search(queries, fetch)
        else:
            bitmap = np.packbits(mask, bitorder="little")
            selector = self.faiss.IDSelectorBitmap(n, self.faiss.swig_ptr(bitmap))
            scores, positions = self._positional.search(queries, fetch,
                                                        params=self.faiss.SearchParameters(sel=selector))
        labels = np.where(positions >= 0, self._base_ids[np.clip(positions, 0, None)], -1)
        return hits_from_rows(scores, labels, k)
