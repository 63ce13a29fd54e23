import numpy as np
import pytest

from tests.vectors.conftest import brute_force_top_k, make_vectors
from vectors.index import exact_search
from vectors.index.exact_search import exact_top_k
from vectors.index.vector_math import normalized


@pytest.mark.parametrize("n,d,k", [(1, 24, 10), (50, 8, 10), (5000, 24, 10), (5000, 24, 100)])
def test_exact_top_k_equals_brute_force(n, d, k):
    vectors = make_vectors(n, d, seed=n)
    ids = np.arange(n, dtype=np.int64) * 7 + 3
    queries = make_vectors(20, d, seed=99)
    hits = exact_top_k(normalized(vectors), ids, normalized(queries), k)
    for query, hit in zip(queries, hits):
        want_ids, want_scores = brute_force_top_k(vectors, ids, query, k)
        assert hit.ids.tolist() == want_ids.tolist()
        np.testing.assert_allclose(hit.scores, want_scores, atol=1e-5)


def test_blocked_search_equals_single_block(monkeypatch):
    vectors, queries = normalized(make_vectors(20000, 24)), normalized(make_vectors(64, 24, seed=5))
    ids = np.arange(20000, dtype=np.int64)
    whole = exact_top_k(vectors, ids, queries, 10)
    monkeypatch.setattr(exact_search, "BLOCK_BYTES", 64 * 4096 * 4 // 3)  # several blocks
    blocked = exact_top_k(vectors, ids, queries, 10)
    assert [h.ids.tolist() for h in whole] == [h.ids.tolist() for h in blocked]


def test_ties_are_ordered_by_id():
    base = make_vectors(1, 24)[0]
    vectors = np.vstack([make_vectors(300, 24, seed=3)] + [base] * 6)  # 6 identical vectors
    ids = np.arange(vectors.shape[0], dtype=np.int64)[::-1].copy()  # duplicates get the lowest ids
    hits = exact_top_k(normalized(vectors), ids, normalized(base[None, :]), 4)[0]
    assert hits.ids.tolist() == [0, 1, 2, 3]


def test_row_mask_restricts_and_returns_k_when_available():
    vectors, ids = normalized(make_vectors(1000, 24)), np.arange(1000, dtype=np.int64)
    mask = ids % 97 == 0  # 11 rows
    hits = exact_top_k(vectors, ids, normalized(make_vectors(3, 24, seed=1)), 10, row_mask=mask)
    assert all(len(h) == 10 and set(h.ids.tolist()) <= set(ids[mask].tolist()) for h in hits)


def test_empty_store_returns_no_hits():
    hits = exact_top_k(np.empty((0, 4), np.float32), np.empty(0, np.int64), np.ones((2, 4), np.float32), 5)
    assert [len(h) for h in hits] == [0, 0]
