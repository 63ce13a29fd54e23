import shutil
import sys

import numpy as np
import pytest

from tests.vectors.conftest import InMemorySource, brute_force_top_k, make_vectors
from vectors.index.errors import FaissUnavailableError
from vectors.index.faiss_store import FaissStore, IndexConfig
from vectors.index.holder import GenerationNotReachedError, IndexHolder, build_snapshot
from vectors.index.snapshot import read_manifest

D = 24


def _holder(source, tmp_path, **kw):
    return IndexHolder(source, snapshot_root=tmp_path, dimension_of=lambda v: D, **kw)


def _seeded(n=500):
    source = InMemorySource()
    vectors = make_vectors(n, D)
    source.upsert(range(1, n + 1), vectors)
    return source, vectors


def test_faiss_and_memory_backends_return_brute_force_top_k(tmp_path):
    source, vectors = _seeded()
    ids = np.arange(1, 501, dtype=np.int64)
    queries = make_vectors(10, D, seed=5)
    healthy = _holder(source, tmp_path).search("v4", queries, 10)
    assert (healthy.backend, healthy.degraded) == ("faiss", False)
    source.degraded, source.epoch = True, source.epoch + 1
    degraded = _holder(source, tmp_path).search("v4", queries, 10)
    assert (degraded.backend, degraded.degraded) == ("memory", True)
    for query, a, b in zip(queries, healthy.hits, degraded.hits):
        want, scores = brute_force_top_k(vectors, ids, query, 10)
        assert a.ids.tolist() == want.tolist() == b.ids.tolist()
        np.testing.assert_allclose(a.scores, scores, atol=1e-5)


def test_writes_converge_through_generations_and_deletes_vanish(tmp_path):
    source, vectors = _seeded()
    holder = _holder(source, tmp_path)
    holder.search("v4", vectors[:1], 1)
    new = make_vectors(1, D, seed=77)
    generation = source.upsert([1000], new)
    out = holder.search("v4", new, 1, min_generation=generation)
    assert out.hits[0].ids.tolist() == [1000] and out.generation == generation
    source.delete([1000])
    assert 1000 not in holder.search("v4", new, 20).hits[0].ids.tolist()
    moved = make_vectors(1, D, seed=78)
    source.upsert([2], moved)  # replace an existing vector
    hits = holder.search("v4", np.vstack([moved, vectors[1]]), 1).hits
    assert hits[0].ids.tolist() == [2] and hits[1].ids.tolist() != [2]


def test_min_generation_in_the_future_is_refused(tmp_path):
    source, _ = _seeded(10)
    with pytest.raises(GenerationNotReachedError):
        _holder(source, tmp_path).search("v4", make_vectors(1, D), 1, min_generation=source.generation + 1)


def test_exclude_ids_still_returns_k(tmp_path):
    source, vectors = _seeded(100)
    hits = _holder(source, tmp_path).search("v4", vectors[:1], 5, exclude_ids=np.array([1])).hits[0]
    assert len(hits) == 5 and 1 not in hits.ids.tolist()


def test_faiss_import_failure_degrades_to_memory(tmp_path, monkeypatch):
    source, vectors = _seeded()
    monkeypatch.setitem(sys.modules, "faiss", None)  # a real ImportError from the import system
    out = _holder(source, tmp_path).search("v4", vectors[:1], 3)
    assert (out.backend, out.degraded) == ("memory", True)
    assert out.hits[0].ids.tolist()[0] == 1
    assert source.reports[0][0] == "faiss_unavailable"


def test_search_failure_degrades_and_still_answers(tmp_path, monkeypatch):
    source, vectors = _seeded()
    holder = _holder(source, tmp_path)
    holder.search("v4", vectors[:1], 3)

    def broken(self, *a, **k):
        raise RuntimeError("faiss exploded")

    monkeypatch.setattr(FaissStore, "search", broken)
    out = holder.search("v4", vectors[:1], 3)
    assert (out.backend, out.hits[0].ids.tolist()[0]) == ("memory", 1)
    assert source.reports == [("search_failed", "RuntimeError: faiss exploded")]


def test_corrupt_snapshot_degrades_and_a_rebuild_restores(tmp_path):
    source, vectors = _seeded()
    manifest = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path, dimension=D, config=IndexConfig())
    source.snapshot_generation = manifest.generation
    source.upsert([900], make_vectors(1, D, seed=9))  # a write after the snapshot is applied on load
    out = _holder(source, tmp_path).search("v4", make_vectors(1, D, seed=9), 1)
    assert out.backend == "faiss" and out.hits[0].ids.tolist() == [900]

    path = tmp_path / "v4" / manifest.index_file
    path.write_bytes(path.read_bytes()[:-10])
    out = _holder(source, tmp_path).search("v4", vectors[:1], 1)
    assert out.backend == "memory" and source.reports[-1][0] == "snapshot_corrupt"

    manifest = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path, dimension=D, config=IndexConfig())
    source.degraded, source.epoch, source.snapshot_generation = False, source.epoch + 1, manifest.generation
    assert read_manifest(tmp_path, "v4").count == 501
    out = _holder(source, tmp_path).search("v4", vectors[:1], 1)
    assert (out.backend, out.hits[0].ids.tolist()) == ("faiss", [1])


def test_build_snapshot_raises_without_faiss(tmp_path):
    source, _ = _seeded(5)

    def no_faiss():
        raise FaissUnavailableError("no faiss")

    with pytest.raises(FaissUnavailableError):
        build_snapshot(source, feature_version="v4", snapshot_root=tmp_path, dimension=D, config=IndexConfig(),
                       faiss_loader=no_faiss)


def test_a_snapshot_older_than_the_recorded_one_is_not_caught_up_from(tmp_path):
    """The deletion log up to the recorded snapshot may be pruned: an older snapshot file on this disk (another
    host's rebuild, a restored disk) is not caught up from; the version is built from the rows instead."""
    source, vectors = _seeded(50)
    old = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path, dimension=D, config=IndexConfig())
    source.snapshot_generation = old.generation
    source.delete([7])
    source.snapshot_generation = source.generation  # a newer snapshot recorded (written elsewhere) ...
    source.deleted = [(i, g) for i, g in source.deleted if g > source.snapshot_generation]  # ... and the log pruned
    source.epoch += 1
    out = _holder(source, tmp_path).search("v4", vectors[6:7], 3)
    assert (out.backend, out.degraded) == ("faiss", False)
    assert 7 not in out.hits[0].ids.tolist()
    assert read_manifest(tmp_path, "v4").generation == old.generation < source.snapshot_generation


def test_a_host_without_the_recorded_snapshot_fetches_the_published_one_and_maps_it(tmp_path):
    """Another host wrote and published the snapshot the source records: this host's empty folder gets a verified
    copy, which is mapped and caught up with the rows changed since."""
    source, vectors = _seeded(60)
    recorded = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path / "host-a", dimension=D,
                              config=IndexConfig())
    source.snapshot_generation, source.published = recorded.generation, tmp_path / "host-a"
    source.delete([9])
    holder = _holder(source, tmp_path / "host-b")
    out = holder.search("v4", vectors[8:9], 3)
    assert (out.backend, out.degraded, source.reports) == ("faiss", False, [])
    assert source.fetches == [(recorded.generation, True)]
    assert holder.loaded()["v4"].shared and 9 not in out.hits[0].ids.tolist()
    assert read_manifest(tmp_path / "host-b", "v4") == recorded


def test_a_host_whose_fetch_fails_degrades_as_without_a_snapshot(tmp_path):
    source, vectors = _seeded(60)
    recorded = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path / "host-a", dimension=D,
                              config=IndexConfig())
    source.snapshot_generation, source.published = recorded.generation, tmp_path / "host-a"
    path = tmp_path / "host-a" / "v4" / recorded.index_file
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x55
    path.write_bytes(bytes(data))
    out = _holder(source, tmp_path / "host-b").search("v4", vectors[:1], 3)
    assert (out.backend, out.degraded) == ("memory", True)
    assert source.fetches == [(recorded.generation, False)] and source.reports[0][0] == "snapshot_missing"
    assert not (tmp_path / "host-b" / "v4" / recorded.index_file).exists()


def test_a_damaged_local_copy_of_the_recorded_generation_is_not_fetched_over(tmp_path):
    """A file of the recorded snapshot deleted on this host is damage, not a missing generation: the version
    degrades (and the recovery rebuilds) even though a published copy exists."""
    source, vectors = _seeded(60)
    recorded = build_snapshot(source, feature_version="v4", snapshot_root=tmp_path / "host", dimension=D,
                              config=IndexConfig())
    shutil.copytree(tmp_path / "host", tmp_path / "published")
    source.snapshot_generation, source.published = recorded.generation, tmp_path / "published"
    (tmp_path / "host" / "v4" / recorded.ids_file).unlink()
    out = _holder(source, tmp_path / "host").search("v4", vectors[:1], 3)
    assert (out.backend, out.degraded, source.fetches) == ("memory", True, [])
    assert source.reports[0][0] == "snapshot_missing"


def test_search_as_loaded_answers_from_the_held_version_and_says_when_it_is_current(tmp_path):
    source, vectors = _seeded(200)
    holder = _holder(source, tmp_path)
    assert holder.search_as_loaded("v4", vectors[:1], 5) is None  # nothing held yet: no answer without the source
    full = holder.search("v4", vectors[:3], 5)
    loaded = holder.search_as_loaded("v4", vectors[:3], 5)
    assert [h.ids.tolist() for h in loaded.outcome.hits] == [h.ids.tolist() for h in full.hits]
    assert (loaded.outcome.backend, loaded.outcome.generation) == (full.backend, full.generation)
    assert loaded.current_for(source.state("v4"))
    assert not loaded.current_for(source.state("v4"), min_generation=source.generation + 1)
    generation = source.upsert([500], make_vectors(1, D, seed=9))  # a write elsewhere: not current any more
    assert not loaded.current_for(source.state("v4"))
    stale = holder.search_as_loaded("v4", vectors[:1], 5)
    assert stale.generation == generation - 1 and not stale.current_for(source.state("v4"))
    holder.search("v4", vectors[:1], 5)
    assert holder.search_as_loaded("v4", vectors[:1], 5).current_for(source.state("v4"))
    source.epoch += 1  # a reload (restore, rebuild, drill) at the same generation
    assert not holder.search_as_loaded("v4", vectors[:1], 5).current_for(source.state("v4"))


def test_search_as_loaded_leaves_a_failing_search_to_the_full_search(tmp_path, monkeypatch):
    source, vectors = _seeded(50)
    holder = _holder(source, tmp_path)
    holder.search("v4", vectors[:1], 5)
    store = holder.loaded()["v4"].store

    def broken(*args, **kwargs):
        raise RuntimeError("search failed")

    monkeypatch.setattr(store, "search", broken)
    assert holder.search_as_loaded("v4", vectors[:1], 5) is None
    assert source.reports == []  # reporting (and degrading) is the full search's business


def test_a_known_state_stands_only_for_the_version_its_search_was_made_on(tmp_path, monkeypatch):
    source, vectors = _seeded(100)
    holder = _holder(source, tmp_path)
    holder.search("v4", vectors[:1], 5)
    loaded = holder.search_as_loaded("v4", vectors[:1], 5)
    source.upsert([900], make_vectors(1, D, seed=3))
    state_reads = []
    real_state = source.state
    monkeypatch.setattr(source, "state", lambda version: state_reads.append(version) or real_state(version))
    known = (real_state("v4"), loaded)
    out = holder.search("v4", vectors[:1], 5, known=known)  # the version is the one searched: the state stands
    assert state_reads == [] and out.generation == source.generation
    stale_loaded = loaded
    source.upsert([901], make_vectors(1, D, seed=4))
    stale = (real_state("v4"), holder.search_as_loaded("v4", vectors[:1], 5))
    source.upsert([902], make_vectors(1, D, seed=5))
    holder.search("v4", vectors[:1], 5)  # another thread moved the held version on meanwhile
    held = holder.loaded()["v4"]
    state_reads.clear()
    out = holder.search("v4", vectors[:1], 5, known=stale)
    # the older state is not taken for a restore (a reload): it is read again, and the held version stays
    assert state_reads == ["v4"] and holder.loaded()["v4"] is held and out.generation == source.generation
    assert not stale_loaded.made_on(held)
