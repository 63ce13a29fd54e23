"""Helpers for the vectors tests: random vectors and an in-memory ``IndexSource`` for the Django-free holder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectors.index.errors import SnapshotError
from vectors.index.holder import ChangeSet, SourceState
from vectors.index.snapshot import MANIFEST, install_snapshot, version_dir


def make_vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def brute_force_top_k(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int):
    """The referee: float64 cosine similarity, sorted by score descending then id ascending."""
    v = vectors.astype(np.float64)
    v = v / np.where(np.linalg.norm(v, axis=1, keepdims=True) == 0, 1, np.linalg.norm(v, axis=1, keepdims=True))
    q = query.astype(np.float64) / (np.linalg.norm(query) or 1.0)
    scores = v @ q
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


class InMemorySource:
    """A complete ``IndexSource`` kept in dicts: rows, generations, a deletion log and a degraded flag."""

    def __init__(self, dimension: int = 24):
        self.dimension = dimension
        self.generation = 0
        self.epoch = 0
        self.degraded = False
        self.snapshot_generation: int | None = None
        self.rows: dict[int, tuple[np.ndarray, int, int]] = {}  # id -> (values, created_gen, gen)
        self.deleted: list[tuple[int, int]] = []  # (id, gen)
        self.reports: list[tuple[str, str]] = []
        # the shared snapshot storage of several hosts: a folder holding the published snapshot (None: none)
        self.published: Path | None = None
        self.fetches: list[tuple[int, bool]] = []  # (generation asked for, fetched)

    def upsert(self, ids, vectors) -> int:
        self.generation += 1
        for i, v in zip(ids, vectors):
            created = self.rows[int(i)][1] if int(i) in self.rows else self.generation
            self.rows[int(i)] = (np.asarray(v, np.float32), created, self.generation)
        return self.generation

    def delete(self, ids) -> int:
        self.generation += 1
        for i in ids:
            self.rows.pop(int(i), None)
            self.deleted.append((int(i), self.generation))
        return self.generation

    def state(self, feature_version):
        return SourceState(self.generation, self.epoch, self.degraded, self.snapshot_generation)

    def _rows(self, pred):
        items = [(i, r[0]) for i, r in sorted(self.rows.items()) if pred(r)]
        ids = np.array([i for i, _ in items], dtype=np.int64)
        vectors = np.array([v for _, v in items], dtype=np.float32).reshape(len(items), self.dimension)
        return ids, vectors

    def load_all(self, feature_version):
        ids, vectors = self._rows(lambda r: True)
        return ChangeSet(self.generation, np.empty(0, np.int64), ids, vectors)

    def changes_since(self, feature_version, generation, up_to=None):
        """Up to the current generation whatever ``up_to`` says (the contract allows going further): these dicts keep
        no older versions of a row."""
        ids, vectors = self._rows(lambda r: r[2] > generation)
        replaced = [i for i in ids if self.rows[int(i)][1] <= generation]
        removed = [i for i, g in self.deleted if g > generation] + replaced
        return ChangeSet(self.generation, np.array(removed, dtype=np.int64), ids, vectors)

    def report_degraded(self, feature_version, reason, error):
        self.reports.append((reason, error))
        self.degraded = True
        self.epoch += 1

    def fetch_snapshot(self, feature_version, generation, root):
        """Copies the snapshot of ``generation`` from ``published`` into ``root`` through ``install_snapshot``."""
        fetched = False
        if self.published is not None:
            folder = version_dir(self.published, feature_version)
            try:
                manifest = install_snapshot(root, feature_version, (folder / MANIFEST).read_bytes(),
                                            lambda name: open(folder / name, "rb"))
                fetched = manifest.generation == generation
            except (OSError, SnapshotError):
                fetched = False
        self.fetches.append((generation, fetched))
        return fetched


@pytest.fixture
def memory_source():
    return InMemorySource()


@pytest.fixture(autouse=True)
def fresh_index_holder(settings, tmp_path):
    """Each test gets its own snapshot folder and a fresh process-local holder."""
    from vectors.runtime import reset_index_holder

    settings.CADML_INDEX_DIR = tmp_path / "index"
    reset_index_holder()
    yield
    reset_index_holder()


def register(feature_version: str, vectors: np.ndarray, *, prefix: str = "k", metas=None) -> list[str]:
    from vectors.services import vector_bulk_upsert

    keys = [f"{prefix}{i:05d}" for i in range(len(vectors))]
    items = [{"key": key, "values": v.tolist(), "meta": (metas[i] if metas else {"i": i})}
             for i, (key, v) in enumerate(zip(keys, vectors))]
    vector_bulk_upsert(feature_version=feature_version, items=items)
    return keys


@pytest.fixture(scope="session")
def cad_sample_documents(cad_samples_dir):
    """(sha256, name, CadDocument) for every binary STL of the shared samples (parsed in process)."""
    import hashlib

    from features.parsers.stl import parse_binary_stl
    from features.parsers.stl_layout import binary_stl_length_matches

    documents = []
    for path in sorted((cad_samples_dir / "stl").iterdir()):
        data = path.read_bytes()
        if binary_stl_length_matches(data):
            documents.append((hashlib.sha256(data).hexdigest(), path.name, parse_binary_stl(data)))
    assert len(documents) >= 8
    return documents


def store_cad_files(documents) -> None:
    """Stores the parsed summaries as features' CAD file rows (what analyze leaves behind)."""
    from features.models import CadFile

    for sha256, name, document in documents:
        CadFile.objects.create(sha256=sha256, size=1, original_name=name, format=document.format,
                               parser=document.parser, parse_seconds=0.0, summary=document.to_dict())
