import faiss
import numpy as np
import pytest

from tests.vectors.conftest import make_vectors
from vectors.index.exact_search import exact_top_k
from vectors.index.faiss_store import FaissStore, IndexConfig
from vectors.index.memory_store import MemoryStore
from vectors.index.vector_math import normalized

FLAT = IndexConfig()
HNSW = IndexConfig(hnsw_threshold=1, hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=64)


def _data(n=20000, d=24, seed=0):
    return normalized(make_vectors(n, d, seed)), np.arange(n, dtype=np.int64) * 5 + 11


def test_flat_store_equals_exact_search():
    vectors, ids = _data()
    store = FaissStore.build(faiss, 24, ids, vectors, FLAT)
    queries = normalized(make_vectors(40, 24, seed=7))
    assert store.kind == "flat"
    got, want = store.search(queries, 10), exact_top_k(vectors, ids, queries, 10)
    assert [h.ids.tolist() for h in got] == [h.ids.tolist() for h in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.scores, w.scores, atol=1e-5)


def test_hnsw_recall_at_10_is_at_least_095():
    vectors, ids = _data(30000)
    store = FaissStore.build(faiss, 24, ids, vectors, HNSW)
    queries = normalized(make_vectors(200, 24, seed=8))
    assert store.kind == "hnsw"
    got, want = store.search(queries, 10), exact_top_k(vectors, ids, queries, 10)
    recall = np.mean([len(set(g.ids.tolist()) & set(w.ids.tolist())) / 10 for g, w in zip(got, want)])
    assert recall >= 0.95


@pytest.mark.parametrize("config", [FLAT, HNSW], ids=["flat", "hnsw"])
@pytest.mark.parametrize("every", [2, 500, 5000])
def test_filtered_search_returns_k_whenever_k_match(config, every):
    vectors, ids = _data()
    store = FaissStore.build(faiss, 24, ids, vectors, config)
    allowed = ids[::every]
    queries = normalized(make_vectors(10, 24, seed=9))
    got = store.search(queries, 10, allowed)
    want = exact_top_k(vectors, ids, queries, 10, row_mask=np.isin(ids, allowed))
    for g, w in zip(got, want):
        assert len(g) == min(10, allowed.size)
        assert set(g.ids.tolist()) <= set(allowed.tolist())
        if config is FLAT or allowed.size <= 4096:
            assert g.ids.tolist() == w.ids.tolist()


@pytest.mark.parametrize("config", [FLAT, HNSW], ids=["flat", "hnsw"])
def test_apply_removes_replaces_and_adds(config):
    vectors, ids = _data(2000)
    store = FaissStore.build(faiss, 24, ids, vectors, config)
    replacement = normalized(make_vectors(1, 24, seed=42))
    store.apply(remove_ids=np.array([ids[0], ids[1]]), add_ids=np.array([ids[1], 99_999]),
                add_vectors=np.vstack([replacement, vectors[5:6]]))
    assert store.count == 2000 - 2 + 2
    top = store.search(replacement, 1)[0]
    assert top.ids.tolist() == [ids[1]] and top.scores[0] == pytest.approx(1.0, abs=1e-5)
    found = set(store.search(vectors[:1], 50)[0].ids.tolist())
    assert ids[0] not in found
    dup = store.search(vectors[5:6], 2)[0]
    assert dup.ids.tolist() == [ids[5], 99_999]  # equal scores ordered by id


def test_view_is_zero_copy_of_the_flat_index():
    vectors, ids = _data(1000)
    store = FaissStore.build(faiss, 24, ids, vectors, FLAT)
    matrix, view_ids, alive = store.view()
    assert alive is None and not matrix.flags.owndata
    np.testing.assert_array_equal(matrix, vectors)
    np.testing.assert_array_equal(view_ids, ids)


@pytest.mark.parametrize("config", [FLAT, HNSW], ids=["flat", "hnsw"])
def test_bytes_round_trip_answers_the_same(config):
    vectors, ids = _data(3000)
    store = FaissStore.build(faiss, 24, ids, vectors, config)
    index_bytes, stored_ids = store.to_bytes()
    again = FaissStore.from_bytes(faiss, store.kind, index_bytes, stored_ids, 24, config)
    queries = normalized(make_vectors(5, 24, seed=3))
    assert [h.ids.tolist() for h in store.search(queries, 10)] == [h.ids.tolist() for h in again.search(queries, 10)]


def test_memory_store_matches_flat_store_after_the_same_changes():
    vectors, ids = _data(5000)
    flat, memory = FaissStore.build(faiss, 24, ids, vectors, FLAT), MemoryStore(24, ids, vectors)
    change = dict(remove_ids=ids[:100], add_ids=np.arange(10**6, 10**6 + 50), add_vectors=vectors[200:250])
    flat.apply(**change)
    memory.apply(**change)
    queries = normalized(make_vectors(30, 24, seed=4))
    assert [h.ids.tolist() for h in flat.search(queries, 10)] == [h.ids.tolist() for h in memory.search(queries, 10)]
    allowed = ids[::3]
    assert ([h.ids.tolist() for h in flat.search(queries, 10, allowed)]
            == [h.ids.tolist() for h in memory.search(queries, 10, allowed)])
