"""Known content whose features the feature cache holds, analyzed without registering a vector: on Postgres the lookup
and the analysis's insert are one statement (`analysis.services._known_content_analysis`); on SQLite the lookup, then
the insert. Either way the answer is the one the lookup-first path gives, and the cases the statement cannot finish
(the row is gone, the row has no original) end as they did before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.models import Analysis
from analysis.services import analysis_create
from cachectl.holder import holder
from features.models import CadFile
from features.originals import original_read, originals_storage
from tests.features.cad_builders import make_binary_stl, make_box_triangles
from vectors.services import vector_upsert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("feature_cache_empty")]


def box(size: float) -> bytes:
    return make_binary_stl(make_box_triangles((size, 1.5, 2.5)))


def analyze(data: bytes, **options):
    return analysis_create(data=data, name="box.stl", feature_version="v4", register_vector=False, classify=False,
                           **options)


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_known_content_is_looked_up_and_recorded_in_one_statement():
    data = box(1.0)
    first = analyze(data)  # parsed, its features cached
    with CaptureQueriesContext(connection) as queries:
        again = analyze(data)
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT \"cachectl_")]
    if connection.vendor == "postgresql":
        assert len(statements) == 1 and statements[0].startswith("WITH found AS (SELECT"), statements
    else:
        assert [sql.split()[0] for sql in statements] == ["SELECT", "INSERT"], statements
    assert again.reused_file is True and again.sections["cache"] == {"hit": True}
    assert again.sections["vector"]["status"] == "not_requested" and again.timings["parse_seconds"] == 0.0
    assert again.values == first.values and again.pk != first.pk
    stored = Analysis.objects.get(pk=again.pk)
    assert stored.cad_file_id == first.cad_file_id and stored.values == again.values
    assert stored.sections == again.sections and stored.reused_file is True
    # the row answered is the stored row, read as the ORM reads it
    assert _fields(again.cad_file) == _fields(CadFile.objects.get(pk=first.cad_file_id))
    assert again.cad_file._state.adding is False


def test_the_sections_are_those_of_the_lookup_first_path():
    for n in range(6):
        vector_upsert(key=f"part-{n}", feature_version="v4", values=[float(n + 1)] + [0.5] * 23)
    data = box(2.0)
    analyze(data)
    holder.reset()  # as in another process: no cached features, the lookup comes first
    looked_up = analyze(data, similar_k=3)
    assert looked_up.sections["cache"] == {"hit": False}
    one_statement = analyze(data, similar_k=3)  # its features now cached
    assert one_statement.sections["cache"] == {"hit": True}
    assert one_statement.sections["similar"] == looked_up.sections["similar"]
    assert one_statement.sections["similar"]["status"] == "ok" and len(one_statement.sections["similar"]["results"]) == 3


def test_content_whose_row_is_gone_is_parsed_again():
    data = box(3.0)
    first = analyze(data)
    Analysis.objects.filter(cad_file_id=first.cad_file_id).delete()
    CadFile.objects.filter(pk=first.cad_file_id).delete()  # the feature cache still holds its features
    again = analyze(data)
    assert again.reused_file is False and again.cad_file.pk != first.cad_file_id
    assert CadFile.objects.get(sha256=first.cad_file.sha256).pk == again.cad_file_id
    assert Analysis.objects.get(pk=again.pk).cad_file_id == again.cad_file_id
    assert again.sections["cache"] == {"hit": True}  # the cached features, as the lookup-first path used them


def test_a_row_without_its_original_gets_it_before_the_analysis():
    data = box(4.0)
    first = analyze(data)
    key = first.cad_file.original_key
    CadFile.objects.filter(pk=first.cad_file_id).update(original_key="", original_stored_at=None)
    originals_storage().delete(key)
    again = analyze(data)
    assert again.reused_file is True and again.cad_file_id == first.cad_file_id
    row = CadFile.objects.get(pk=first.cad_file_id)
    assert row.original_key == key and row.original_stored_at is not None
    assert original_read(key) == data
    assert Analysis.objects.filter(cad_file_id=first.cad_file_id).count() == 2
