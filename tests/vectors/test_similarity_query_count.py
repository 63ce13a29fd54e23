"""Pins the SQL statements of a similarity call (a regression test, not a timing)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vectors.conftest import make_vectors, register
from vectors.selectors import reference_buffer, vector_similarity_search, vector_similarity_search_batch

pytestmark = pytest.mark.django_db

# A vector query: one statement reads the index state (the holder's generation check) and the rows of the hits.
SIMILARITY_BY_VECTOR_STATEMENTS = 1
# A key query adds the lookup of the key's vector.
SIMILARITY_BY_KEY_STATEMENTS = 2
# The first search after a write: that statement finds the state moved on, the holder converges from the state it
# read (the changed rows, the replaced ids, the deletions), the hits' rows are read again (it was 6 before the
# state and the rows were read together: the holder read the state twice).
AFTER_A_WRITE_STATEMENTS = 5
# exclude_keys (analyze's "similar" leaves the analysed file out) adds the lookup of their ids.
EXCLUDE_KEYS_STATEMENTS = 1
# The last_referenced_at bookkeeping: one UPDATE per process per second at most, on top of the above. Here it is
# three statements (SAVEPOINT, UPDATE, RELEASE) because a test runs inside a transaction; in autocommit it is one.
REFERENCE_WRITE_STATEMENTS = 3


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stored(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(reference_buffer, "clock", clock)
    vectors = make_vectors(300, 24, seed=3)
    keys = register("v4", vectors)
    vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=5)  # loads the index
    clock.now += 10  # the next search is the first of a quiet second: it writes its references at once
    return vectors, keys, clock


def test_a_vector_query_costs_one_statement_and_no_write_within_the_second(stored, django_assert_num_queries):
    vectors, _, clock = stored
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS + REFERENCE_WRITE_STATEMENTS):
        first = vector_similarity_search(feature_version="v4", vector=vectors[1].tolist(), k=5)
    clock.now += 0.5
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS):
        second = vector_similarity_search(feature_version="v4", vector=vectors[2].tolist(), k=5)
    assert len(first["results"]) == len(second["results"]) == 5


def test_the_buffered_references_are_written_after_the_second(stored, django_assert_num_queries):
    from vectors.models import Vector

    vectors, keys, clock = stored
    vector_similarity_search(feature_version="v4", vector=vectors[1].tolist(), k=5)
    written = set(Vector.objects.filter(last_referenced_at__isnull=False).values_list("key", flat=True))
    clock.now += 0.5
    buffered = vector_similarity_search(feature_version="v4", vector=vectors[200].tolist(), k=5)["results"]
    only_buffered = {r["key"] for r in buffered} - written
    assert only_buffered
    assert not Vector.objects.filter(key__in=only_buffered, last_referenced_at__isnull=False).exists()
    clock.now += 1.0
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS + REFERENCE_WRITE_STATEMENTS):
        vector_similarity_search(feature_version="v4", vector=vectors[3].tolist(), k=5)
    marked = set(Vector.objects.filter(last_referenced_at__isnull=False).values_list("key", flat=True))
    assert {r["key"] for r in buffered} <= marked


def test_a_key_query_costs_two_statements_and_exclusions_one_more(stored, django_assert_num_queries):
    _, keys, clock = stored
    vector_similarity_search(feature_version="v4", key=keys[7], k=5)
    clock.now += 0.5
    with django_assert_num_queries(SIMILARITY_BY_KEY_STATEMENTS):
        vector_similarity_search(feature_version="v4", key=keys[10], k=5)
    with django_assert_num_queries(SIMILARITY_BY_KEY_STATEMENTS + EXCLUDE_KEYS_STATEMENTS):
        out = vector_similarity_search(feature_version="v4", key=keys[8], k=5, exclude_keys=[keys[9]])
    assert keys[8] not in {r["key"] for r in out["results"]} and keys[9] not in {r["key"] for r in out["results"]}


def test_a_batch_costs_the_same_as_one_query(stored, django_assert_num_queries):
    vectors, keys, clock = stored
    vector_similarity_search(feature_version="v4", vector=vectors[1].tolist(), k=5)
    clock.now += 0.5
    queries = [{"vector": v.tolist()} for v in vectors[10:20]] + [{"key": keys[30]}, {"key": keys[31]}]
    with django_assert_num_queries(SIMILARITY_BY_KEY_STATEMENTS):
        out = vector_similarity_search_batch(feature_version="v4", queries=queries, k=5)
    assert len(out["results"]) == 12


def test_an_http_similarity_call_adds_nothing_once_the_credential_is_cached(stored, key_client, request_caches_held,
                                                                            django_assert_num_queries):
    vectors, _, clock = stored
    body = {"vector": np.asarray(vectors[4]).tolist(), "k": 5, "feature_version": "v4"}
    assert key_client.post("/api/v1/vectors/similarity/", body, format="json").status_code == 200
    clock.now += 0.5
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS):
        response = key_client.post("/api/v1/vectors/similarity/", body, format="json")
    assert response.status_code == 200 and len(response.json()["results"]) == 5


def test_an_http_similarity_call_in_the_served_version_adds_nothing_either(stored, key_client, request_caches_held,
                                                                          settings, django_assert_num_queries):
    """Without feature_version the served version is the default: read once a second per process, not per call."""
    settings.CADML_FEATURE_VERSION = "v4"
    vectors, _, clock = stored
    body = {"vector": np.asarray(vectors[4]).tolist(), "k": 5}
    first = key_client.post("/api/v1/vectors/similarity/", body, format="json")
    assert first.status_code == 200 and first.json()["feature_version"] == "v4"
    clock.now += 0.5
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS):
        response = key_client.post("/api/v1/vectors/similarity/", body, format="json")
    assert response.status_code == 200 and len(response.json()["results"]) == 5


def test_the_first_search_after_a_write_converges_then_one_statement_again(stored, django_assert_num_queries):
    from vectors.services import vector_upsert

    vectors, _, clock = stored
    vector_similarity_search(feature_version="v4", vector=vectors[1].tolist(), k=5)  # writes its references
    clock.now += 0.5
    new = make_vectors(1, 24, seed=99)[0]
    vector_upsert(key="new-one", values=new.tolist(), feature_version="v4", meta={"n": 1})
    with django_assert_num_queries(AFTER_A_WRITE_STATEMENTS):
        out = vector_similarity_search(feature_version="v4", vector=new.tolist(), k=3)
    assert out["results"][0]["key"] == "new-one" and out["results"][0]["meta"] == {"n": 1}
    with django_assert_num_queries(SIMILARITY_BY_VECTOR_STATEMENTS):
        again = vector_similarity_search(feature_version="v4", vector=new.tolist(), k=3)
    assert again == out
