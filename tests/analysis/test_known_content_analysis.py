"""Known content whose features the feature cache holds: on Postgres the lookup and the writes are one statement
(`analysis.services._known_content_analysis`): the analysis's insert and, for a call that registers its vector, the
vector's write, its metadata from the row's facts this process read last (`features.file_facts`). On SQLite the lookup,
then the writes. Either way the answer is the one the lookup-first path gives, and the cases the statement cannot
finish (the row is gone, the row has no original, the row is not the one the facts were read from, the version's first
vector) end as they did before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.models import Analysis
from analysis.services import analysis_create
from cachectl.holder import holder
from features.file_facts import file_facts
from features.models import CadFile
from features.originals import original_read, originals_storage
from features.services import cad_file_ingest
from tests.features.cad_builders import make_binary_stl, make_box_triangles
from vectors.models import IndexState, Vector
from vectors.services import vector_upsert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("feature_cache_empty")]


def box(size: float) -> bytes:
    return make_binary_stl(make_box_triangles((size, 1.5, 2.5)))


def analyze(data: bytes, **options):
    return analysis_create(data=data, name="box.stl", feature_version="v4", register_vector=False, classify=False,
                           **options)


def analyze_registering(data: bytes, **options):
    return analysis_create(data=data, name="box.stl", feature_version="v4", register_vector=True, classify=False,
                           **options)


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT \"cachectl_")]


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
    similar = one_statement.sections["similar"]
    assert similar["status"] == "ok" and len(similar["results"]) == 3


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


@pytest.mark.parametrize("register", [False, True])
def test_a_row_without_its_original_gets_it_before_the_analysis(register):
    call = analyze_registering if register else analyze
    data = box(4.0)
    first = call(data)
    key = first.cad_file.original_key
    CadFile.objects.filter(pk=first.cad_file_id).update(original_key="", original_stored_at=None)
    originals_storage().delete(key)
    again = call(data)
    assert again.reused_file is True and again.cad_file_id == first.cad_file_id
    row = CadFile.objects.get(pk=first.cad_file_id)
    assert row.original_key == key and row.original_stored_at is not None
    assert original_read(key) == data
    assert Analysis.objects.filter(cad_file_id=first.cad_file_id).count() == 2
    if register:  # the vector written after the original, as the lookup-first path writes it
        assert again.sections["vector"]["created"] is False
        assert Vector.objects.get(feature_version="v4", key=first.cad_file.sha256).generation == \
            again.sections["vector"]["generation"]


def test_a_registering_call_writes_the_vector_in_the_same_statement():
    data = box(5.0)
    first = analyze_registering(data, meta={"project": "p1"})  # parsed: its features and its row's facts kept
    before = Vector.objects.get(feature_version="v4", key=first.cad_file.sha256)
    with CaptureQueriesContext(connection) as queries:
        again = analyze_registering(data, meta={"batch": 2})
    statements = _statements(queries)
    if connection.vendor == "postgresql":
        assert len(statements) == 1 and statements[0].startswith("WITH found AS (SELECT"), statements
        with connection.cursor() as cursor:  # prepared on this connection: parsed and planned once
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            assert any(text.startswith("WITH found AS (SELECT") and "$1" in text for (text,) in cursor.fetchall())
    assert again.reused_file is True and again.cad_file_id == first.cad_file_id
    vector = again.sections["vector"]
    assert vector["status"] == "registered" and vector["key"] == first.cad_file.sha256
    assert vector["created"] is False and vector["generation"] == first.sections["vector"]["generation"] + 1
    row = Vector.objects.get(pk=before.pk)
    assert row.generation == vector["generation"]
    # the metadata the lookup-first path gives: the row's meta, then the call's, then the content's own fields
    assert row.meta == {"project": "p1", "batch": 2, "cad_file": first.cad_file.sha256, "format": "stl",
                        "name": "box.stl"}
    assert Analysis.objects.get(pk=again.pk).sections == again.sections


def test_a_registering_call_gives_what_the_lookup_first_path_gives():
    for n in range(6):
        vector_upsert(key=f"part-{n}", feature_version="v4", values=[float(n + 1)] + [0.5] * 23)
    data = box(6.0)
    analyze_registering(data, meta={"project": "p1"})
    holder.reset()
    file_facts.clear()  # as in another process: nothing cached, the lookup comes first
    looked_up = analyze_registering(data, similar_k=3, meta={"batch": 1}, vector_key="part-x")
    meta_looked_up = Vector.objects.get(feature_version="v4", key="part-x").meta
    assert looked_up.sections["cache"] == {"hit": False}
    one_statement = analyze_registering(data, similar_k=3, meta={"batch": 1}, vector_key="part-x")
    assert one_statement.sections["cache"] == {"hit": True}
    assert Vector.objects.get(feature_version="v4", key="part-x").meta == meta_looked_up

    def but_generation(section: dict) -> dict:  # the index's generation moved with the first call's write
        return {k: v for k, v in section.items() if k != "generation"}

    assert but_generation(one_statement.sections["similar"]) == but_generation(looked_up.sections["similar"])
    assert one_statement.sections["similar"]["generation"] == looked_up.sections["vector"]["generation"]
    assert "part-x" not in [r["key"] for r in one_statement.sections["similar"]["results"]]  # its own key left out
    assert len(one_statement.sections["similar"]["results"]) == 3
    assert but_generation(one_statement.sections["vector"]) == {**but_generation(looked_up.sections["vector"]),
                                                                "created": False}


def test_a_row_stored_again_elsewhere_gives_the_vector_its_own_metadata():
    data = box(7.0)
    first = analyze_registering(data)  # this process keeps the row's facts (its id, no meta)
    Analysis.objects.filter(cad_file_id=first.cad_file_id).delete()
    CadFile.objects.filter(pk=first.cad_file_id).delete()
    # another process stores the content again, with other metadata: a new row, a new id
    stored = cad_file_ingest(data=data, name="other.stl", meta={"source": "elsewhere"}).cad_file
    with CaptureQueriesContext(connection) as queries:
        again = analyze_registering(data)
    if connection.vendor == "postgresql":  # the statement wrote nothing (another id), then the record from its row
        assert len(_statements(queries)) == 2, _statements(queries)
    assert again.reused_file is True and again.cad_file_id == stored.pk
    assert Vector.objects.get(feature_version="v4", key=stored.sha256).meta == {
        "source": "elsewhere", "cad_file": stored.sha256, "format": "stl", "name": "box.stl"}
    assert Analysis.objects.filter(cad_file_id=stored.pk).count() == 1
    assert file_facts.get(stored.sha256).id == stored.pk  # the facts follow the row it read


def test_the_versions_first_vector_is_written_in_steps():
    data = box(8.0)
    first = analyze_registering(data)
    Vector.objects.filter(feature_version="v4").delete()
    IndexState.objects.filter(feature_version="v4").delete()  # the version has no state row: its first vector
    again = analyze_registering(data)
    assert again.reused_file is True and again.cad_file_id == first.cad_file_id
    assert again.sections["vector"]["created"] is True and again.sections["vector"]["generation"] >= 1
    assert Vector.objects.filter(feature_version="v4", key=first.cad_file.sha256).exists()
    assert Analysis.objects.filter(cad_file_id=first.cad_file_id).count() == 2
