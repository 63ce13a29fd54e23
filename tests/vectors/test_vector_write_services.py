import pytest

from tests.vectors.conftest import make_vectors
from vectors.errors import DimensionMismatch, DuplicateKey, InvalidKey, InvalidMeta, InvalidVector, UnknownFeatureVersion
from vectors.errors import VectorNotFound
from vectors.models import IndexState, Vector, VectorDeletion, VectorOpsAudit
from vectors.services import vector_bulk_upsert, vector_delete, vector_upsert

pytestmark = pytest.mark.django_db


def test_upsert_creates_then_replaces_and_bumps_the_generation():
    first = vector_upsert(key="part-1", feature_version="v4", values=[1.0] * 24, meta={"material": "steel"})
    assert (first.created, first.generation) == (True, 1)
    second = vector_upsert(key="part-1", feature_version="v4", values=[2.0] * 24)
    assert (second.created, second.generation) == (False, 2)
    row = Vector.objects.get(key="part-1", feature_version="v4")
    assert (row.generation, row.created_generation, row.dimension, row.meta) == (2, 1, 24, {})
    assert row.as_array().tolist() == [2.0] * 24
    assert IndexState.objects.get(feature_version="v4").generation == 2


def test_same_key_in_two_versions_is_two_vectors():
    vector_upsert(key="p", feature_version="v4", values=[1.0] * 24)
    vector_upsert(key="p", feature_version="v3", values=[1.0] * 22)
    assert Vector.objects.filter(key="p").count() == 2


def test_wrong_dimension_reports_expected_and_found():
    with pytest.raises(DimensionMismatch) as err:
        vector_upsert(key="p", feature_version="v4", values=[1.0] * 7)
    assert (err.value.status, err.value.code) == (422, "dimension_mismatch")
    assert err.value.context["expected"] == 24 and err.value.context["found"] == 7


@pytest.mark.parametrize("values", [[float("nan")] * 24, [float("inf")] + [0.0] * 23, ["x"] * 24])
def test_non_finite_values_are_422(values):
    with pytest.raises(InvalidVector) as err:
        vector_upsert(key="p", feature_version="v4", values=values)
    assert err.value.status == 422
    assert not Vector.objects.exists()


@pytest.mark.parametrize("key", ["", "../x", "a b", "similarity", "x" * 256, 5])
def test_bad_keys_are_refused(key):
    with pytest.raises(InvalidKey):
        vector_upsert(key=key, feature_version="v4", values=[1.0] * 24)


def test_unknown_version_and_bad_meta_are_refused():
    with pytest.raises(UnknownFeatureVersion):
        vector_upsert(key="p", feature_version="v9", values=[1.0] * 24)
    with pytest.raises(InvalidMeta):
        vector_upsert(key="p", feature_version="v4", values=[1.0] * 24, meta=["not", "an", "object"])
    with pytest.raises(InvalidMeta):
        vector_upsert(key="p", feature_version="v4", values=[1.0] * 24, meta={"big": "x" * 20_000})


def test_bulk_is_one_generation_and_all_or_nothing():
    vectors = make_vectors(300, 24)
    out = vector_bulk_upsert(feature_version="v4", items=[{"key": f"k{i}", "values": v.tolist()}
                                                          for i, v in enumerate(vectors)])
    assert (out.created, out.updated, out.generation) == (300, 0, 1)
    again = vector_bulk_upsert(feature_version="v4", items=[{"key": "k1", "values": vectors[0].tolist()},
                                                            {"key": "new", "values": vectors[1].tolist()}])
    assert (again.created, again.updated, again.generation) == (1, 1, 2)
    with pytest.raises(DimensionMismatch):
        vector_bulk_upsert(feature_version="v4", items=[{"key": "ok", "values": [0.0] * 24},
                                                        {"key": "bad", "values": [0.0] * 3}])
    with pytest.raises(DuplicateKey):
        vector_bulk_upsert(feature_version="v4", items=[{"key": "d", "values": [0.0] * 24}] * 2)
    assert Vector.objects.count() == 301 and IndexState.objects.get().generation == 2


def test_delete_logs_the_change_and_audits():
    vector_upsert(key="gone", feature_version="v4", values=[1.0] * 24, meta={"a": 1})
    generation = vector_delete(key="gone", feature_version="v4", actor="ops-alice", request_id="r1", reason="dup")
    assert generation == 2 and not Vector.objects.exists()
    assert VectorDeletion.objects.get().generation == 2
    audit = VectorOpsAudit.objects.get()
    assert (audit.action, audit.actor, audit.reason, audit.before["meta"]) == ("vector_delete", "ops-alice", "dup",
                                                                              {"a": 1})
    with pytest.raises(VectorNotFound):
        vector_delete(key="gone", feature_version="v4", actor="ops-alice")


# A write once the version has its generation row: on Postgres one statement (the bump and the upsert in one CTE, its
# own transaction); on SQLite a SAVEPOINT pair around the bump and the upsert (whose RETURNING says which rows it
# inserted: no count of the existing keys first).
WRITE_STATEMENTS = {"postgresql": 1, "sqlite": 4}


def test_a_write_is_one_statement_once_the_version_has_its_generation(django_assert_num_queries):
    from django.db import connection

    assert vector_upsert(key="a", feature_version="v4", values=[1.0] * 24).generation == 1  # creates the state row
    with django_assert_num_queries(WRITE_STATEMENTS[connection.vendor]):
        written = vector_upsert(key="b", feature_version="v4", values=[2.0] * 24, meta={"m": 1})
    assert (written.generation, written.created) == (2, True)
    with django_assert_num_queries(WRITE_STATEMENTS[connection.vendor]):
        bulk = vector_bulk_upsert(feature_version="v4", items=[{"key": "a", "values": [3.0] * 24},
                                                               {"key": "c", "values": [4.0] * 24}])
    assert (bulk.generation, bulk.created, bulk.updated) == (3, 1, 1)
    rows = {row.key: (row.generation, row.created_generation, row.meta) for row in Vector.objects.all()}
    assert rows == {"a": (3, 1, {}), "b": (2, 2, {"m": 1}), "c": (3, 3, {})}
    assert IndexState.objects.get(feature_version="v4").generation == 3


def test_a_write_larger_than_one_statement_takes_the_transaction_of_batches(monkeypatch):
    from vectors.services import vector_writes

    vector_upsert(key="first", feature_version="v4", values=[1.0] * 24)
    monkeypatch.setattr(vector_writes, "POSTGRES_STATEMENT_ROWS", 2)  # also batches of 2 rows
    monkeypatch.setattr(vector_writes, "SQLITE_STATEMENT_ROWS", 2)
    vectors = make_vectors(5, 24)
    out = vector_bulk_upsert(feature_version="v4", items=[{"key": f"k{i}", "values": v.tolist()}
                                                          for i, v in enumerate(vectors)])
    assert (out.created, out.updated, out.generation) == (5, 0, 2)
    assert set(Vector.objects.filter(generation=2).values_list("key", flat=True)) == {f"k{i}" for i in range(5)}
    # inserted and replaced rows mixed across the batches: each batch's RETURNING tells them apart
    again = vector_bulk_upsert(feature_version="v4", items=[{"key": key, "values": [0.5] * 24}
                                                            for key in ("k0", "new1", "k3", "first", "new2")])
    assert (again.created, again.updated, again.generation) == (2, 3, 3)
    rows = {row.key: (row.generation, row.created_generation) for row in Vector.objects.all()}
    assert rows["k0"] == (3, 2) and rows["first"] == (3, 1) and rows["new1"] == (3, 3) and rows["k1"] == (2, 2)
