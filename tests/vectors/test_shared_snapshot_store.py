"""A verified snapshot is served from a shared read-only mapping, with this process's changes since held apart."""

from __future__ import annotations

import hashlib
import stat

import numpy as np
import pytest

from tests.vectors.conftest import InMemorySource, brute_force_top_k, make_vectors
from vectors.index.faiss_store import IndexConfig
from vectors.index.holder import IndexHolder, build_snapshot
from vectors.index.shared_store import SharedSnapshotStore
from vectors.index.snapshot import PINNED_DIR, read_manifest, version_dir

D = 24
CONFIGS = {"flat": IndexConfig(), "hnsw": IndexConfig(hnsw_threshold=100, hnsw_ef_search=128)}


def _source_with_snapshot(tmp_path, kind: str, n: int = 400) -> InMemorySource:
    source = InMemorySource(D)
    source.upsert(range(1, n + 1), make_vectors(n, D, seed=21))
    manifest = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path, dimension=D, config=CONFIGS[kind])
    assert manifest.kind == kind
    source.snapshot_generation = manifest.generation
    return source


def _holder(source, tmp_path, kind: str, **kw) -> IndexHolder:
    return IndexHolder(source, snapshot_root=tmp_path, dimension_of=lambda v: D, config=CONFIGS[kind], **kw)


def _mapped_files() -> set[str]:
    """Paths mapped shared and read-only into this process."""
    out = set()
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6 and parts[1].startswith("r") and parts[1][3] == "s" and "w" not in parts[1]:
            out.add(parts[5])
    return out


def _digests(tmp_path) -> dict[str, str]:
    folder = version_dir(tmp_path, "v4")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _current(source) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(sorted(source.rows), dtype=np.int64)
    return ids, np.array([source.rows[int(i)][0] for i in ids], dtype=np.float32)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_the_snapshot_is_mapped_shared_and_read_only(tmp_path, kind):
    source = _source_with_snapshot(tmp_path, kind)
    version = _holder(source, tmp_path, kind).prepare("v4")
    assert isinstance(version.store, SharedSnapshotStore) and version.shared and version.store.kind == kind
    manifest = read_manifest(tmp_path, "v4")
    folder, pinned = version_dir(tmp_path, "v4"), tmp_path / PINNED_DIR / "v4"
    mapped = _mapped_files()
    # what is mapped is this host's verified, read-only copy, never the snapshot file itself
    assert str(pinned / manifest.index_file) in mapped and str(pinned / manifest.ids_file) in mapped
    assert str(folder / manifest.index_file) not in mapped and str(folder / manifest.ids_file) not in mapped
    assert all(stat.S_IMODE((pinned / name).stat().st_mode) == 0o444
               for name in (manifest.index_file, manifest.ids_file))
    assert version.store.count == 400 and version.store.delta_count == 0


@pytest.mark.parametrize("damage", ["truncate", "bit_flip", "delete"])
def test_damage_to_the_snapshot_on_disk_reaches_no_serving_process_and_the_next_load_degrades(tmp_path, damage):
    """A mapped file truncated in place would kill the next search with SIGBUS, a flipped bit would be served: the
    serving holder maps the pinned copy, so it keeps answering exactly; a holder loading afterwards checks the
    snapshot file, finds it damaged and serves exact search from the rows (degraded)."""
    source = _source_with_snapshot(tmp_path, "flat")
    serving = _holder(source, tmp_path, "flat")
    serving.prepare("v4")
    path = version_dir(tmp_path, "v4") / read_manifest(tmp_path, "v4").index_file
    if damage == "truncate":
        with open(path, "r+b") as handle:
            handle.truncate(64)
    elif damage == "bit_flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    queries = make_vectors(6, D, seed=31)
    ids, vectors = _current(source)
    for outcome in (serving.search("v4", queries, 5), _holder(source, tmp_path, "flat").search("v4", queries, 5)):
        for query, hits in zip(queries, outcome.hits):
            want_ids, _ = brute_force_top_k(vectors, ids, query, 5)
            assert hits.ids.tolist() == want_ids.tolist()
    assert serving.loaded()["v4"].shared
    assert _holder(source, tmp_path, "flat").search("v4", queries, 5).backend == "memory"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_changes_since_the_snapshot_are_private_and_answers_stay_exact(tmp_path, kind):
    source = _source_with_snapshot(tmp_path, kind)
    before = _digests(tmp_path)
    holder = _holder(source, tmp_path, kind)
    holder.prepare("v4")
    source.delete([3, 4, 5])
    source.upsert([10, 11], make_vectors(2, D, seed=22))  # replaced since the snapshot
    source.upsert([1001, 1002, 1003], make_vectors(3, D, seed=23))  # added
    queries = np.vstack([make_vectors(12, D, seed=24), source.rows[10][0], source.rows[1002][0]])
    outcome = holder.search("v4", queries, 10)
    store = holder.loaded()["v4"].store
    assert isinstance(store, SharedSnapshotStore)
    assert store.delta_count == 5 and store.count == 400 - 3 + 3
    ids, vectors = _current(source)
    for query, hits in zip(queries, outcome.hits):
        want_ids, want_scores = brute_force_top_k(vectors, ids, query, 10)
        assert hits.ids.tolist() == want_ids.tolist()
        np.testing.assert_allclose(hits.scores, want_scores, atol=1e-5)
    filtered = holder.search("v4", queries[:3], 5, allowed_ids=np.array([4, 10, 20, 30, 1001, 1003])).hits
    for query, hits in zip(queries[:3], filtered):
        keep = np.isin(ids, [10, 20, 30, 1001, 1003])
        assert hits.ids.tolist() == brute_force_top_k(vectors[keep], ids[keep], query, 5)[0].tolist()
    assert _digests(tmp_path) == before  # the mapped snapshot was never written


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_shared_and_private_loads_answer_alike(tmp_path, kind):
    source = _source_with_snapshot(tmp_path, kind)
    source.delete([7])
    source.upsert([2000], make_vectors(1, D, seed=25))
    queries = make_vectors(20, D, seed=26)
    shared = _holder(source, tmp_path, kind).search("v4", queries, 10).hits
    private = _holder(source, tmp_path, kind, share_snapshots=False).search("v4", queries, 10).hits
    for a, b in zip(shared, private):
        assert a.ids.tolist() == b.ids.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("damage", ["index_byte", "ids_truncated"])
def test_a_corrupted_snapshot_is_detected_before_it_is_mapped(tmp_path, kind, damage):
    source = _source_with_snapshot(tmp_path, kind)
    manifest = read_manifest(tmp_path, "v4")
    folder = version_dir(tmp_path, "v4")
    if damage == "index_byte":
        path = folder / manifest.index_file
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path = folder / manifest.ids_file
        path.write_bytes(path.read_bytes()[:-8])
    holder = _holder(source, tmp_path, kind)
    outcome = holder.search("v4", make_vectors(1, D, seed=27), 5)
    assert outcome.backend == "memory" and source.reports[-1][0] == "snapshot_corrupt"
    assert str(path) not in _mapped_files()
