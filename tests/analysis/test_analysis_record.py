"""An analysis writes its file row, its vector and its own row together (`analysis.services.analysis_record`): on
Postgres in one statement, on SQLite in one transaction. These tests hold on both: all three rows or none, the vector
section filled in from the write, and the two cases the statement hands to the steps (the content stored concurrently,
the version's first vector)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from analysis.models import Analysis
from analysis.services import analysis_create, analysis_record
from features.models import CadFile
from features.services import cad_file_ingest, cad_file_prepare
from tests.features.cad_builders import make_binary_stl, make_box_triangles
from vectors.models import IndexState, Vector
from vectors.services import vector_upsert, vector_write_check

pytestmark = pytest.mark.django_db


def box(size: float) -> bytes:
    return make_binary_stl(make_box_triangles((size, 2.0, 3.0)))


def fields(values: list[float], vector_key: str | None = None) -> dict:
    vector = ({"status": "registered", "key": vector_key, "generation": None, "registered": True, "created": None}
              if vector_key else {"status": "not_requested", "key": None, "generation": None, "registered": False})
    return {"feature_version": "v4", "values": values, "timings": {"total_seconds": 0.001},
            "sections": {"cache": {"hit": False}, "vector": vector}}


def test_new_file_its_vector_and_its_analysis_are_written_together(request_caches_held):
    # the caches' once-a-second convergence held: the feature cache is read before the parse and written after it
    vector_upsert(key="other", feature_version="v4", values=[0.5] * 24)  # the version's index state exists
    before = IndexState.objects.get(feature_version="v4").generation
    with CaptureQueriesContext(connection) as queries:
        analysis = analysis_create(data=box(1.0), name="box.stl", feature_version="v4", classify=False)
    vector = analysis.sections["vector"]
    row = Vector.objects.get(feature_version="v4", key=analysis.cad_file.sha256)
    assert vector["registered"] is True and vector["created"] is True
    assert vector["generation"] == row.generation == before + 1
    assert IndexState.objects.get(feature_version="v4").generation == before + 1
    stored = Analysis.objects.get(pk=analysis.pk)
    assert stored.sections == analysis.sections  # the generation written in the row is the one answered
    assert stored.cad_file_id == CadFile.objects.get(sha256=analysis.cad_file.sha256).pk
    if connection.vendor == "postgresql":  # reads, then one statement for the three rows
        verbs = [q["sql"].split()[0] for q in queries.captured_queries]
        assert verbs[-1] == "WITH" and set(verbs[:-1]) == {"SELECT"}, verbs


@pytest.mark.django_db(transaction=True)  # no test transaction around it: what the write commits stays
def test_a_failing_analysis_insert_leaves_neither_the_file_nor_the_vector():
    vector_upsert(key="other", feature_version="v4", values=[0.5] * 24)
    generation = IndexState.objects.get(feature_version="v4").generation
    data = box(2.0)
    prepared = cad_file_prepare(data=data, name="box.stl")
    key = prepared.cad_file.sha256
    checked = vector_write_check(key=key, feature_version="v4", values=[1.0] * 24)
    broken = fields([float("nan")] * 24, vector_key=key)  # NaN is no JSON: the analysis row is refused
    with pytest.raises(DatabaseError):
        analysis_record(prepared=prepared, data=data, vector_write=checked, fields=broken)
    assert not CadFile.objects.filter(sha256=key).exists()
    assert not Vector.objects.filter(key=key).exists()
    assert IndexState.objects.get(feature_version="v4").generation == generation


def test_content_stored_concurrently_is_referred_to_and_written_once():
    vector_upsert(key="other", feature_version="v4", values=[0.5] * 24)
    data = box(3.0)
    prepared = cad_file_prepare(data=data, name="mine.stl")  # parsed, not inserted
    theirs = cad_file_ingest(data=data, name="theirs.stl").cad_file  # another writer stores the content meanwhile
    key = prepared.cad_file.sha256
    checked = vector_write_check(key=key, feature_version="v4", values=[1.0] * 24)
    analysis = analysis_record(prepared=prepared, data=data, vector_write=checked, fields=fields([1.0] * 24, key))
    assert CadFile.objects.filter(sha256=key).count() == 1
    assert analysis.cad_file_id == theirs.pk and analysis.reused_file is True
    assert Vector.objects.filter(key=key).count() == 1
    assert analysis.sections["vector"]["created"] is True
    assert Analysis.objects.get(pk=analysis.pk).sections["vector"]["generation"] == Vector.objects.get(key=key).generation


def test_the_first_vector_of_a_version_creates_its_index_state():
    assert not IndexState.objects.filter(feature_version="v3").exists()
    analysis = analysis_create(data=box(4.0), name="box.stl", feature_version="v3", classify=False)
    assert analysis.sections["vector"] == {"status": "registered", "key": analysis.cad_file.sha256, "generation": 1,
                                           "registered": True, "created": True}
    assert IndexState.objects.get(feature_version="v3").generation == 1
    assert Analysis.objects.get(pk=analysis.pk).cad_file_id == CadFile.objects.get(sha256=analysis.cad_file.sha256).pk
    again = analysis_create(data=box(4.0), name="box.stl", feature_version="v3", classify=False)
    assert again.reused_file is True and again.cad_file_id == analysis.cad_file_id
    assert again.sections["vector"]["generation"] == 2 and again.sections["vector"]["created"] is False


def test_similar_parts_are_searched_before_the_write_and_leave_out_the_own_key():
    first = analysis_create(data=box(5.0), name="a.stl", feature_version="v4", classify=False)
    second = analysis_create(data=box(5.0), name="a-again.stl", feature_version="v4", classify=False, similar_k=5,
                             vector_key="copy-of-a")
    keys = [result["key"] for result in second.sections["similar"]["results"]]
    assert first.cad_file.sha256 in keys and "copy-of-a" not in keys
    third = analysis_create(data=box(5.0), name="a-third.stl", feature_version="v4", classify=False, similar_k=5,
                            vector_key="copy-of-a")
    keys = [result["key"] for result in third.sections["similar"]["results"]]
    assert "copy-of-a" not in keys and first.cad_file.sha256 in keys
