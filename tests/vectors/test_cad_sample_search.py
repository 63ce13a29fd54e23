"""Similarity over vectors of the shared CAD samples equals a brute-force top-k in both backends."""

import numpy as np
import pytest

from features.extractors import extract_features
from tests.vectors.conftest import brute_force_top_k
from vectors.selectors import vector_similarity_search
from vectors.services import index_degrade_drill, vector_upsert

pytestmark = pytest.mark.django_db


def test_cad_sample_vectors_rank_like_brute_force_in_both_backends(cad_sample_documents):
    keys, vectors = [], []
    for sha256, name, document in cad_sample_documents:
        values = extract_features(document, "v4")
        vector_upsert(key=sha256, feature_version="v4", values=values, meta={"cad_file": sha256, "name": name})
        keys.append(sha256)
        vectors.append(values)
    vectors = np.asarray(vectors, dtype=np.float32)
    ids = np.arange(len(keys), dtype=np.int64)  # insertion order == id order
    k = 5
    answers = {}
    for backend in ("faiss", "memory"):
        if backend == "memory":
            index_degrade_drill(feature_version="v4", reason="compare backends", actor="test")
        answers[backend] = []
        for query in vectors:
            out = vector_similarity_search(feature_version="v4", vector=query.tolist(), k=k)
            assert out["backend"] == backend
            answers[backend].append(out["results"])
    for query, faiss_results, memory_results in zip(vectors, answers["faiss"], answers["memory"]):
        want_ids, want_scores = brute_force_top_k(vectors, ids, query, k)
        assert [r["key"] for r in faiss_results] == [keys[i] for i in want_ids]
        assert [r["key"] for r in memory_results] == [keys[i] for i in want_ids]
        np.testing.assert_allclose([r["score"] for r in faiss_results], want_scores, atol=1e-4)
        np.testing.assert_allclose([r["score"] for r in memory_results], want_scores, atol=1e-4)
