"""A meta filter name is a meta key, never an ORM lookup (issue 18, finding 6).

Before the fix ``?meta.in=1`` and ``?meta.range=1`` answered 500, and ``?meta.regex=``, ``?meta.has_key=``,
``?meta.icontains=`` ran those operators on the whole meta object. Runs on SQLite and, with DATABASE_URL, on
Postgres (their JSON lookups differ).
"""

from __future__ import annotations

import pytest

from tests.vectors.conftest import make_vectors, register

pytestmark = pytest.mark.django_db

URL = "/api/v1/vectors/"
LOOKUP_NAMES = ["in", "range", "regex", "iregex", "has_key", "has_keys", "has_any_keys", "contains",
                "icontains", "contained_by", "exact", "iexact", "isnull", "startswith", "gt", "lt", "len"]


@pytest.fixture
def catalogue():
    """Three parts: one whose meta really has keys named like lookups, two plain ones."""
    metas = [
        {"part_type": "bracket", "in": 1, "range": 1, "regex": "b.*", "has_key": "part_type", "icontains": "BRA",
         "isnull": True, "contains": "x"},
        {"part_type": "bracket", "holes": 4},
        {"part_type": "gear", "holes": 1},
    ]
    return register("v4", make_vectors(3, 24, seed=7), metas=metas)


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["key"] for row in response.json()["results"]]


@pytest.mark.parametrize("name, value, expected", [
    ("in", "1", ["k00000"]),
    ("range", "1", ["k00000"]),
    ("regex", "b.*", ["k00000"]),       # the key "regex" equal to "b.*", not a regex over the meta
    ("regex", "bracket", []),
    ("has_key", "part_type", ["k00000"]),
    ("has_key", "holes", []),
    ("icontains", "BRA", ["k00000"]),
    ("icontains", "bra", []),
    ("isnull", "true", ["k00000"]),
    ("contains", "x", ["k00000"]),
])
def test_list_filter_names_that_look_like_lookups_match_the_key_literally(key_client, catalogue, name, value,
                                                                           expected):
    assert _keys(key_client.get(f"{URL}?feature_version=v4&meta.{name}={value}")) == expected


@pytest.mark.parametrize("name", LOOKUP_NAMES)
def test_every_lookup_name_answers_a_list_not_a_500(key_client, catalogue, name):
    response = key_client.get(f"{URL}?feature_version=v4&meta.{name}=1")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("name", ["part_type__in", "a.b", "1abc", "", "x" * 65, "ünï", "a-b", "__in"])
def test_names_that_cannot_be_a_key_are_400_validation_failed(key_client, catalogue, name):
    response = key_client.get(f"{URL}?feature_version=v4&meta.{name}=1")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_filter"


def test_similarity_and_batch_filters_match_keys_literally(key_client, catalogue):
    query = make_vectors(3, 24, seed=7)[1].tolist()
    for filters, expected in [({"in": 1}, {"k00000"}), ({"range": 1}, {"k00000"}),
                              ({"regex": "bracket"}, set()), ({"has_key": "holes"}, set()),
                              ({"icontains": "BRA"}, {"k00000"}), ({"part_type": "bracket"}, {"k00000", "k00001"})]:
        single = key_client.post(URL + "similarity/", {"feature_version": "v4", "vector": query, "k": 3,
                                                       "filters": filters}, format="json")
        assert single.status_code == 200, (filters, single.content)
        assert {r["key"] for r in single.json()["results"]} == expected, filters
        batch = key_client.post(URL + "similarity/batch/", {"feature_version": "v4", "queries": [{"vector": query}],
                                                            "k": 3, "filters": filters}, format="json")
        assert batch.status_code == 200, (filters, batch.content)
        assert {r["key"] for r in batch.json()["results"][0]} == expected, filters


def test_similarity_filter_name_that_cannot_be_a_key_is_400(key_client, catalogue):
    query = make_vectors(1, 24)[0].tolist()
    for body_path, body in [("similarity/", {"vector": query}), ("similarity/batch/", {"queries": [{"vector": query}]})]:
        response = key_client.post(URL + body_path, {"feature_version": "v4", "k": 3, "filters": {"holes__in": 1},
                                                     **body}, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid_filter"
