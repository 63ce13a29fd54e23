"""The similarity selector's one-statement path (index state and the hits' rows read together) answers exactly what
the full path (the holder's own state check, then the rows) answers, and gives way to it whenever the state moved."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vectors.conftest import make_vectors, register
from vectors import selectors
from vectors.errors import GenerationNotReached
from vectors.runtime import index_holder
from vectors.selectors import vector_similarity_search, vector_similarity_search_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_path_only(monkeypatch):
    """Every search through ``IndexHolder.search``, as before the one-statement path."""
    def forced():
        monkeypatch.setattr(type(index_holder()), "search_as_loaded", lambda *a, **kw: None)
    return forced


def _v5_vectors(n: int, seed: int) -> np.ndarray:
    """v5 vectors of boxes of random sizes (a v5 vector has slots the re-ranking reads: not random numbers)."""
    from features.descriptors import describe_triangles
    from features.extractors import v5_vector
    from tests.features.cad_builders import make_box_triangles

    sizes = np.random.default_rng(seed).uniform(1.0, 50.0, (n, 3))
    return np.array([np.asarray(v5_vector(describe_triangles(make_box_triangles(tuple(size)))), np.float32)
                     for size in sizes])


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_the_one_statement_answer_is_the_full_paths(version, monkeypatch, full_path_only):
    vectors = make_vectors(120, 24, seed=4) if version == "v4" else _v5_vectors(120, seed=4)
    keys = register(version, vectors, metas=[{"i": i, "tag": ["a", None, {"n": i}], "cad_file": None}
                                             for i in range(len(vectors))])
    queries = [{"vector": v.tolist()} for v in vectors[:6]] + [{"key": keys[7]}]
    vector_similarity_search(feature_version=version, vector=vectors[0].tolist(), k=3)  # loads the index
    folded = [vector_similarity_search_batch(feature_version=version, queries=queries, k=k) for k in (1, 5, 30)]
    single = vector_similarity_search(feature_version=version, key=keys[3], k=8)
    full_path_only()
    assert [vector_similarity_search_batch(feature_version=version, queries=queries, k=k) for k in (1, 5, 30)] \
        == folded
    assert vector_similarity_search(feature_version=version, key=keys[3], k=8) == single
    assert folded[1]["results"][0][0]["meta"] == {"i": 0, "tag": ["a", None, {"n": 0}], "cad_file": None}


def test_a_generation_not_reached_is_still_refused(django_assert_num_queries):
    vectors = make_vectors(30, 24, seed=5)
    register("v4", vectors)
    first = vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=3)
    with pytest.raises(GenerationNotReached):
        vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=3,
                                 min_generation=first["generation"] + 1)
    reached = vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=3,
                                       min_generation=first["generation"])
    assert reached == first


def test_a_degraded_version_is_served_from_memory_at_once():
    from vectors.services import index_mark_degraded

    vectors = make_vectors(40, 24, seed=6)
    register("v4", vectors)
    before = vector_similarity_search(feature_version="v4", vector=vectors[2].tolist(), k=4)
    assert before["backend"] == "faiss"
    index_mark_degraded(feature_version="v4", reason="search_failed", error="test")
    after = vector_similarity_search(feature_version="v4", vector=vectors[2].tolist(), k=4)
    assert (after["backend"], after["degraded"]) == ("memory", True)
    assert [r["key"] for r in after["results"]] == [r["key"] for r in before["results"]]


def test_a_batch_with_more_hits_than_the_limit_reads_its_rows_apart(monkeypatch, django_assert_num_queries,
                                                                    full_path_only):
    vectors = make_vectors(60, 24, seed=7)
    register("v4", vectors)
    queries = [{"vector": v.tolist()} for v in vectors[:8]]
    vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=3)
    monkeypatch.setattr(selectors, "ROWS_WITH_STATE_MAX", 5)
    monkeypatch.setattr(selectors, "_mark_referenced", lambda ids: None)
    with django_assert_num_queries(2):  # the state, then the rows
        apart = vector_similarity_search_batch(feature_version="v4", queries=queries, k=4)
    full_path_only()
    assert vector_similarity_search_batch(feature_version="v4", queries=queries, k=4) == apart
