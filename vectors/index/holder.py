"""The process-local index holder: one store per feature version, converging on the database through generations.

Django-free: the holder talks to the database through an ``IndexSource`` (implemented in
``vectors.index_source``). Before answering, ``prepare`` compares the process's generation and epoch with the
source's: a new generation applies the rows changed since (read-your-writes across processes), a new epoch
(restore, rebuild, drill) reloads the version, from the recorded snapshot when there is one (fetched through the
source first when this host's snapshot folder lacks it). Any failure to import Faiss, read a verified snapshot, build,
load or search is reported to the source as a degradation, and the version is then served exactly by numpy
from the same rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from vectors.index.errors import (
    FaissUnavailableError,
    IndexCoreError,
    SnapshotCorruptError,
    SnapshotError,
    SnapshotMissingError,
)
from vectors.index.faiss_store import FaissStore, IndexConfig, import_faiss
from vectors.index.hits import Hits
from vectors.index.memory_store import MemoryStore
from vectors.index.shared_store import SharedSnapshotStore
from vectors.index.snapshot import (
    SnapshotManifest,
    pinned_snapshot,
    read_manifest,
    read_snapshot,
    write_snapshot,
)
from vectors.index.vector_math import normalized

logger = logging.getLogger("cadml.vectors.index")


class GenerationNotReachedError(IndexCoreError):
    """A search asked for a generation the database has not committed."""

    def __init__(self, requested: int, current: int):
        super().__init__(f"generation {requested} is not committed yet (current {current})")
        self.requested = requested
        self.current = current


@dataclass(frozen=True)
class SourceState:
    generation: int
    epoch: int
    degraded: bool
    snapshot_generation: int | None
    incarnation: str = ""  # changes when the state is recreated or restored (generations may then repeat)


@dataclass(frozen=True)
class ChangeSet:
    """Rows to apply to reach ``generation``: remove ``removed_ids`` first, then add the (raw) vectors."""

    generation: int
    removed_ids: np.ndarray
    added_ids: np.ndarray
    added_vectors: np.ndarray


class IndexSource(Protocol):
    def state(self, feature_version: str) -> SourceState: ...

    def load_all(self, feature_version: str) -> ChangeSet: ...

    def changes_since(self, feature_version: str, generation: int, up_to: int | None = None) -> ChangeSet:
        """The changes after ``generation``; ``up_to``: the generation of the state the caller just read (so the source
        need not read it again). The change set's own generation says how far it goes."""

    def report_degraded(self, feature_version: str, reason: str, error: str) -> None:
        """Records the degradation (every process then serves the version from numpy)."""

    def fetch_snapshot(self, feature_version: str, generation: int, root: Path) -> bool:
        """Copies the snapshot of ``generation`` published by another host into ``root`` (verified against its
        manifest, ``vectors.index.snapshot.install_snapshot``); False when there is none to fetch or it fails."""


def degradation_reason(exc: BaseException, stage: str) -> str:
    """A bounded reason code for a failure at ``stage`` (load, build, search)."""
    if isinstance(exc, FaissUnavailableError):
        return "faiss_unavailable"
    if isinstance(exc, SnapshotMissingError):
        return "snapshot_missing"
    if isinstance(exc, SnapshotCorruptError):
        return "snapshot_corrupt"
    return f"{stage}_failed"


@dataclass
class VersionIndex:
    feature_version: str
    store: FaissStore | SharedSnapshotStore | MemoryStore
    generation: int
    epoch: int
    incarnation: str = ""

    @property
    def backend(self) -> str:
        return "memory" if isinstance(self.store, MemoryStore) else "faiss"

    @property
    def shared(self) -> bool:
        """Whether the vectors of the snapshot are served from a shared read-only mapping."""
        return getattr(self.store, "shared", False)


@dataclass(frozen=True)
class SearchOutcome:
    hits: list[Hits]
    backend: str
    degraded: bool
    generation: int


def release_free_memory() -> None:
    """Hands freed heap pages back to the OS after a load (glibc keeps freed 10-30 MB arrays otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _apply(store, changes: ChangeSet) -> None:
    vectors = normalized(changes.added_vectors) if changes.added_ids.size else changes.added_vectors
    store.apply(remove_ids=changes.removed_ids, add_ids=changes.added_ids, add_vectors=vectors)


class IndexHolder:
    """Process-local stores for every feature version, kept in step with an ``IndexSource``."""

    def __init__(self, source: IndexSource, *, snapshot_root: Path, dimension_of: Callable[[str], int],
                 config: IndexConfig | None = None, faiss_loader: Callable[[], ModuleType] = import_faiss,
                 share_snapshots: bool = True):
        """``share_snapshots``: serve a verified snapshot mapped read-only (shared by every process that maps it,
        see ``vectors.index.shared_store``) instead of a private copy."""
        self.source = source
        self.share_snapshots = share_snapshots
        self.snapshot_root = Path(snapshot_root)
        self.dimension_of = dimension_of
        self.config = config or IndexConfig()
        self.faiss_loader = faiss_loader
        self._versions: dict[str, VersionIndex] = {}
        self._lock = threading.RLock()

    # ---- convergence -------------------------------------------------------------------------------------------
    def prepare(self, feature_version: str, *, min_generation: int | None = None,
                known: tuple[SourceState, LoadedSearch] | None = None) -> VersionIndex:
        """Brings the version up to the source's generation and epoch and returns it. ``known``: a state the caller
        read after ``search_as_loaded`` answered with the given ``LoadedSearch``; it stands for the source's state
        while this process still holds the very version that search used (else the state is read again: another
        thread may have moved the version on since, and an older state would look like a restore)."""
        with self._lock:
            state = None
            if known is not None:
                held = self._versions.get(feature_version)
                if held is not None and known[1].made_on(held):
                    state = known[0]
            if state is None:
                state = self.source.state(feature_version)
            if min_generation is not None and state.generation < min_generation:
                raise GenerationNotReachedError(min_generation, state.generation)
            current = self._versions.get(feature_version)
            if (current is None or current.epoch != state.epoch or current.incarnation != state.incarnation
                    or state.generation < current.generation):
                current = self._load(feature_version, state)
            elif state.generation > current.generation:
                changes = self.source.changes_since(feature_version, current.generation, up_to=state.generation)
                try:
                    _apply(current.store, changes)
                    current.generation = changes.generation
                except Exception as exc:
                    current = self._degrade(feature_version, exc, "build")
            return current

    def _load(self, feature_version: str, state: SourceState) -> VersionIndex:
        if state.degraded:
            return self._load_memory(feature_version, state.epoch, state.incarnation)
        try:
            faiss = self.faiss_loader()
            dimension = self.dimension_of(feature_version)
            manifest = snapshot = None
            if state.snapshot_generation is not None:
                snapshot = self._local_snapshot(feature_version, state.snapshot_generation, dimension)
                manifest = snapshot.manifest
            # A snapshot older than the one the state records (another host's rebuild, a restored disk) is not
            # caught up from: the deletion log up to the recorded snapshot may be pruned. Build from the rows.
            if manifest is not None and manifest.generation >= state.snapshot_generation:
                store = self._open_snapshot(faiss, snapshot, dimension)
                if store.count != manifest.count:
                    raise SnapshotCorruptError(f"snapshot index holds {store.count}, manifest {manifest.count}")
                changes = self.source.changes_since(feature_version, manifest.generation)
                _apply(store, changes)
            else:
                changes = self.source.load_all(feature_version)
                store = FaissStore.build(faiss, dimension, changes.added_ids, normalized(changes.added_vectors),
                                         self.config)
        except Exception as exc:
            stage = "load" if isinstance(exc, (SnapshotError, FaissUnavailableError)) else "build"
            return self._degrade(feature_version, exc, stage)
        version = VersionIndex(feature_version, store, changes.generation, state.epoch, state.incarnation)
        self._versions[feature_version] = version
        del changes
        release_free_memory()
        return version

    def _local_snapshot(self, feature_version: str, generation: int, dimension: int):
        """The verified (pinned) snapshot in this host's folder. When the folder lacks ``generation`` (no manifest,
        or an older one: another host rebuilt), the source's published one is fetched into it first. Without a
        fetched snapshot the local outcome stands: an older snapshot (built from the rows instead) or none (the
        version degrades). A damaged local copy of the recorded generation (a file its manifest names is missing or
        fails its checksum) is not fetched over: it degrades as before, and the recovery rebuilds and republishes."""
        try:
            local = read_manifest(self.snapshot_root, feature_version)
        except SnapshotMissingError as exc:
            local, missing = None, exc
        if local is None or local.generation < generation:
            if self.source.fetch_snapshot(feature_version, generation, self.snapshot_root):
                return pinned_snapshot(self.snapshot_root, feature_version, dimension=dimension)
            if local is None:
                raise missing
        return pinned_snapshot(self.snapshot_root, feature_version, dimension=dimension)

    def _open_snapshot(self, faiss: ModuleType, snapshot, dimension: int):
        """The verified snapshot, mapped (shared) or read into this process (private)."""
        if self.share_snapshots:
            return SharedSnapshotStore.open(faiss, snapshot, dimension, self.config)
        index_bytes = snapshot.index_path.read_bytes()
        ids = np.fromfile(snapshot.ids_path, dtype="<i8").astype(np.int64)
        try:
            return FaissStore.from_bytes(faiss, snapshot.manifest.kind, index_bytes, ids, dimension, self.config)
        except Exception as exc:
            raise SnapshotCorruptError(f"snapshot does not load: {exc!r}") from exc

    def _load_memory(self, feature_version: str, epoch: int, incarnation: str) -> VersionIndex:
        changes = self.source.load_all(feature_version)
        store = MemoryStore(self.dimension_of(feature_version), changes.added_ids, normalized(changes.added_vectors))
        version = VersionIndex(feature_version, store, changes.generation, epoch, incarnation)
        self._versions[feature_version] = version
        del changes
        release_free_memory()
        return version

    def _degrade(self, feature_version: str, exc: BaseException, stage: str) -> VersionIndex:
        reason = degradation_reason(exc, stage)
        logger.warning("Vector index %s degraded (%s): %r", feature_version, reason, exc)
        self.source.report_degraded(feature_version, reason, f"{type(exc).__name__}: {exc}")
        state = self.source.state(feature_version)
        return self._load_memory(feature_version, state.epoch, state.incarnation)

    def forget(self, feature_version: str | None = None) -> None:
        """Drops the process-local store(s); the next ``prepare`` reloads."""
        with self._lock:
            if feature_version is None:
                self._versions.clear()
            else:
                self._versions.pop(feature_version, None)

    def loaded(self) -> dict[str, VersionIndex]:
        with self._lock:
            return dict(self._versions)

    # ---- search ------------------------------------------------------------------------------------------------
    def search(self, feature_version: str, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None,
               exclude_ids: np.ndarray | None = None, min_generation: int | None = None,
               known: tuple[SourceState, LoadedSearch] | None = None) -> SearchOutcome:
        """Top-k hits for each (raw) query vector after converging on the source (``known``: see ``prepare``)."""
        queries = normalized(queries)
        excluded = 0 if exclude_ids is None else int(np.asarray(exclude_ids).size)
        with self._lock:
            version = self.prepare(feature_version, min_generation=min_generation, known=known)
            try:
                hits = version.store.search(queries, k + excluded, allowed_ids)
            except Exception as exc:
                if version.backend == "memory":
                    raise
                version = self._degrade(feature_version, exc, "search")
                hits = version.store.search(queries, k + excluded, allowed_ids)
        if excluded:
            hits = [_without(h, exclude_ids, k) for h in hits]
        return SearchOutcome(hits, version.backend, version.backend == "memory", version.generation)

    def search_as_loaded(self, feature_version: str, queries: np.ndarray, k: int, *,
                         allowed_ids: np.ndarray | None = None) -> LoadedSearch | None:
        """Top-k hits from the version as this process holds it, without asking the source: None when it holds none
        or its search fails. The answer stands only if the source's state, read after it, shows that ``prepare``
        would have changed nothing (``LoadedSearch.current_for``); otherwise the caller searches with ``search``.
        This lets a caller read the state in the same statement as the rows of the hits (one round trip)."""
        queries = normalized(queries)
        with self._lock:
            version = self._versions.get(feature_version)
            if version is None:
                return None
            try:
                hits = version.store.search(queries, k, allowed_ids)
            except Exception:  # the full search degrades and reports it
                return None
            outcome = SearchOutcome(hits, version.backend, version.backend == "memory", version.generation)
            return LoadedSearch(outcome, version.generation, version.epoch, version.incarnation)


@dataclass(frozen=True)
class LoadedSearch:
    """A search of the loaded version and the (generation, epoch, incarnation) it was made at."""

    outcome: SearchOutcome
    generation: int
    epoch: int
    incarnation: str

    def made_on(self, version: VersionIndex) -> bool:
        """Whether this search was made on ``version`` as it is now."""
        return (version.generation, version.epoch, version.incarnation) == (self.generation, self.epoch,
                                                                             self.incarnation)

    def current_for(self, state: SourceState, *, min_generation: int | None = None) -> bool:
        """Whether ``prepare`` at ``state`` would have searched this very version: same epoch and incarnation, no
        change since (and ``min_generation`` reached, else ``search`` answers GenerationNotReached)."""
        return (state.epoch == self.epoch and state.incarnation == self.incarnation
                and state.generation == self.generation
                and (min_generation is None or state.generation >= min_generation))


def _without(hits: Hits, exclude_ids: np.ndarray, k: int) -> Hits:
    keep = ~np.isin(hits.ids, exclude_ids)
    return Hits(ids=hits.ids[keep][:k], scores=hits.scores[keep][:k])


def build_snapshot(source: IndexSource, *, feature_version: str, snapshot_root: Path, dimension: int,
                   config: IndexConfig, faiss_loader: Callable[[], ModuleType] = import_faiss) -> SnapshotManifest:
    """Builds a fresh index from every row, writes it atomically and proves it loads back; raises on failure."""
    faiss = faiss_loader()
    changes = source.load_all(feature_version)
    store = FaissStore.build(faiss, dimension, changes.added_ids, normalized(changes.added_vectors), config)
    index_bytes, ids = store.to_bytes()
    manifest = write_snapshot(snapshot_root, feature_version=feature_version, generation=changes.generation,
                              dimension=dimension, kind=store.kind, index_bytes=index_bytes, ids=ids)
    check_manifest, check_bytes, check_ids = read_snapshot(snapshot_root, feature_version, dimension=dimension)
    reloaded = FaissStore.from_bytes(faiss, check_manifest.kind, check_bytes, check_ids, dimension, config)
    if reloaded.count != manifest.count:
        raise SnapshotCorruptError(f"snapshot reloads with {reloaded.count} vectors, expected {manifest.count}")
    return manifest
