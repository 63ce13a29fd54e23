import numpy as np
import pytest

from tests.vectors.conftest import brute_force_top_k, make_vectors, register
from vectors.errors import GenerationNotReached, InvalidFilter, InvalidQuery, VectorNotFound
from vectors.models import IndexEvent, Vector
from vectors.selectors import vector_similarity_search, vector_similarity_search_batch
from vectors.services import index_degrade_drill, vector_delete, vector_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored():
    vectors = make_vectors(400, 24, seed=11)
    metas = [{"part_type": ["bracket", "flange", "shaft", "gear"][i % 4], "holes": i % 3} for i in range(400)]
    keys = register("v4", vectors, metas=metas)
    ids = np.array(list(Vector.objects.filter(key__in=keys).order_by("key").values_list("id", flat=True)))
    return vectors, keys, ids, metas


def _expected_keys(vectors, keys, ids, query, k):
    want_ids, want_scores = brute_force_top_k(vectors, ids, query, k)
    by_id = dict(zip(ids.tolist(), keys))
    return [by_id[i] for i in want_ids.tolist()], want_scores


def test_faiss_and_degraded_memory_results_equal_brute_force(stored):
    vectors, keys, ids, _ = stored
    queries = make_vectors(15, 24, seed=12)
    healthy = [vector_similarity_search(feature_version="v4", vector=q.tolist(), k=10) for q in queries]
    assert {(r["backend"], r["degraded"]) for r in healthy} == {("faiss", False)}
    index_degrade_drill(feature_version="v4", reason="test drill", actor="ops-alice")
    degraded = [vector_similarity_search(feature_version="v4", vector=q.tolist(), k=10) for q in queries]
    assert {(r["backend"], r["degraded"]) for r in degraded} == {("memory", True)}
    for query, a, b in zip(queries, healthy, degraded):
        want_keys, want_scores = _expected_keys(vectors, keys, ids, query, 10)
        assert [r["key"] for r in a["results"]] == want_keys == [r["key"] for r in b["results"]]
        np.testing.assert_allclose([r["score"] for r in a["results"]], want_scores, atol=1e-5)
        np.testing.assert_allclose([r["score"] for r in b["results"]], want_scores, atol=1e-5)


@pytest.mark.parametrize("degraded", [False, True])
def test_filtered_search_returns_k_matching_results(stored, degraded):
    vectors, keys, ids, metas = stored
    if degraded:
        index_degrade_drill(feature_version="v4", reason="drill", actor="t")
    out = vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=10,
                                   filters={"part_type": "gear", "holes": 2})
    matching = [i for i, m in enumerate(metas) if m == {"part_type": "gear", "holes": 2}]
    want_keys, _ = _expected_keys(vectors[matching], [keys[i] for i in matching], ids[matching], vectors[0], 10)
    assert [r["key"] for r in out["results"]] == want_keys
    assert all(r["meta"] == {"part_type": "gear", "holes": 2} for r in out["results"])


def test_key_query_excludes_itself_and_marks_references(stored):
    vectors, keys, ids, _ = stored
    out = vector_similarity_search(feature_version="v4", key=keys[5], k=3)
    assert len(out["results"]) == 3 and keys[5] not in [r["key"] for r in out["results"]]
    referenced = set(Vector.objects.filter(last_referenced_at__isnull=False).values_list("key", flat=True))
    assert referenced == {keys[5], *[r["key"] for r in out["results"]]}


def test_min_score_and_exclude_keys(stored):
    vectors, keys, _, _ = stored
    out = vector_similarity_search(feature_version="v4", vector=vectors[7].tolist(), k=10, min_score=0.999)
    assert [r["key"] for r in out["results"]] == [keys[7]]
    out = vector_similarity_search(feature_version="v4", vector=vectors[7].tolist(), k=2, exclude_keys=[keys[7]])
    assert keys[7] not in [r["key"] for r in out["results"]] and len(out["results"]) == 2


def test_read_your_writes_and_deletes_never_appear(stored):
    vectors, keys, _, _ = stored
    vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=1)  # index loaded
    new = make_vectors(1, 24, seed=99)[0]
    write = vector_upsert(key="fresh", feature_version="v4", values=new.tolist(), meta={"part_type": "new"})
    out = vector_similarity_search(feature_version="v4", vector=new.tolist(), k=1, min_generation=write.generation)
    assert out["results"][0]["key"] == "fresh" and out["generation"] == write.generation
    vector_delete(key="fresh", feature_version="v4", actor="ops-alice")
    out = vector_similarity_search(feature_version="v4", vector=new.tolist(), k=50)
    assert "fresh" not in [r["key"] for r in out["results"]]
    with pytest.raises(GenerationNotReached) as err:
        vector_similarity_search(feature_version="v4", vector=new.tolist(), k=1, min_generation=10_000)
    assert err.value.status == 409


def test_batch_returns_one_list_per_query(stored):
    vectors, keys, ids, _ = stored
    out = vector_similarity_search_batch(feature_version="v4", k=5, queries=[
        {"vector": vectors[1].tolist()}, {"key": keys[2]}, {"vector": vectors[3].tolist()}])
    assert len(out["results"]) == 3
    assert out["results"][0][0]["key"] == keys[1] and out["results"][2][0]["key"] == keys[3]
    assert keys[2] not in [r["key"] for r in out["results"][1]]
    want, _ = _expected_keys(vectors, keys, ids, vectors[2], 6)
    assert [r["key"] for r in out["results"][1]] == want[1:]


def test_bad_queries_are_4xx(stored):
    with pytest.raises(InvalidQuery):
        vector_similarity_search(feature_version="v4", vector=[0.0] * 24, key="k00001")
    with pytest.raises(InvalidQuery):
        vector_similarity_search(feature_version="v4", vector=[0.0] * 24, k=10_000)
    with pytest.raises(VectorNotFound):
        vector_similarity_search(feature_version="v4", key="nope")
    with pytest.raises(InvalidFilter):
        vector_similarity_search(feature_version="v4", vector=[0.0] * 24, filters={"a__contains": "x"})
    with pytest.raises(InvalidFilter):
        vector_similarity_search(feature_version="v4", vector=[0.0] * 24, filters={"a": ["list"]})


def test_empty_version_answers_no_results():
    out = vector_similarity_search(feature_version="v2", vector=[1.0] * 12, k=5)
    assert out["results"] == [] and out["backend"] == "faiss" and not IndexEvent.objects.exists()


def test_hnsw_versions_load_from_snapshot_and_apply_deletes_and_updates(settings):
    from vectors.runtime import index_holder, reset_index_holder
    from vectors.services import index_rebuild

    settings.CADML_HNSW_THRESHOLD = 100
    vectors = make_vectors(300, 24, seed=31)
    keys = register("v4", vectors)
    ids = np.array(list(Vector.objects.order_by("key").values_list("id", flat=True)))
    index_rebuild(feature_version="v4", actor="t", reason="hnsw snapshot")
    reset_index_holder()
    out = vector_similarity_search(feature_version="v4", vector=vectors[9].tolist(), k=10)
    assert index_holder().loaded()["v4"].store.kind == "hnsw" and out["backend"] == "faiss"
    assert [r["key"] for r in out["results"]] == _expected_keys(vectors, keys, ids, vectors[9], 10)[0]
    vector_delete(key=keys[9], feature_version="v4", actor="t")
    moved = make_vectors(1, 24, seed=32)[0]
    vector_upsert(key=keys[10], feature_version="v4", values=moved.tolist())
    out = vector_similarity_search(feature_version="v4", vector=vectors[9].tolist(), k=10)
    assert keys[9] not in [r["key"] for r in out["results"]]
    top = vector_similarity_search(feature_version="v4", vector=moved.tolist(), k=1)["results"][0]
    assert top["key"] == keys[10] and top["score"] == pytest.approx(1.0, abs=1e-5)
    old = vector_similarity_search(feature_version="v4", vector=vectors[10].tolist(), k=1)["results"][0]
    assert old["key"] != keys[10]  # the replaced vector's old position is masked


def test_a_recreated_state_with_repeated_generations_is_reloaded():
    """A database restored from a backup (or a rolled-back test) repeats generation numbers: the state row's
    incarnation tells the process-local index to reload instead of trusting its generation."""
    from vectors.models import IndexState

    first = make_vectors(20, 24, seed=41)
    register("v4", first, prefix="old")
    assert vector_similarity_search(feature_version="v4", vector=first[0].tolist(), k=1)["results"][0]["key"] == \
        "old00000"
    Vector.objects.all().delete()
    IndexState.objects.all().delete()
    second = make_vectors(20, 24, seed=42)
    register("v4", second, prefix="new")  # generation 1 again
    out = vector_similarity_search(feature_version="v4", vector=second[3].tolist(), k=1)
    assert out["results"][0]["key"] == "new00003" and out["generation"] == 1


def test_each_key_query_in_a_batch_leaves_out_only_its_own_key():
    base = make_vectors(1, 24, seed=51)[0]
    twin = base + 0.001  # the nearest neighbour of each other
    vectors = np.vstack([base, twin, make_vectors(30, 24, seed=52)])
    keys = register("v4", vectors)
    out = vector_similarity_search_batch(feature_version="v4", k=1, queries=[{"key": keys[0]}, {"key": keys[1]}])
    assert [r[0]["key"] for r in out["results"]] == [keys[1], keys[0]]
