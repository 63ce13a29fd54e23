"""`cadml_site.model_rows.model_rows`: the instances a queryset gives, read without compiling one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analysis.models import Analysis
from cadml_site.model_rows import model_rows
from features.models import CadFile
from features.services import cad_file_ingest
from tests.features.cad_builders import make_binary_stl, make_box_triangles

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_row_reads_as_the_queryset_reads_it(django_assert_num_queries):
    row = cad_file_ingest(data=make_binary_stl(make_box_triangles((1.0, 2.0, 3.0))), name="box.stl",
                          meta={"nested": {"a": [1, None, "x"]}, "n": 2}).cad_file
    CadFile.objects.filter(pk=row.pk).update(thumbnail_error="", original_stored_at=timezone.now() - timedelta(days=1))
    expected = CadFile.objects.get(pk=row.pk)
    with django_assert_num_queries(1):
        found = model_rows(CadFile, where={"sha256": row.sha256}, limit=1)
    assert len(found) == 1 and _fields(found[0]) == _fields(expected)
    got = found[0]
    assert got.summary == expected.summary and got.meta == {"nested": {"a": [1, None, "x"]}, "n": 2}
    assert got.created_at.tzinfo is not None and got._state.adding is False and got._state.db == connection.alias
    assert got.has_original and got.pk == row.pk  # a model instance: its properties work


def test_no_row_several_rows_and_foreign_keys():
    assert model_rows(CadFile, where={"sha256": "0" * 64}, limit=1) == []
    row = cad_file_ingest(data=make_binary_stl(make_box_triangles((3.0, 2.0, 1.0))), name="b.stl").cad_file
    for n in range(3):
        Analysis.objects.create(cad_file=row, feature_version="v4", values=[float(n)] * 24, reused_file=bool(n),
                                timings={"n": n}, sections={"cache": {"hit": False}})
    expected = {a.pk: _fields(a) for a in Analysis.objects.filter(cad_file=row)}
    found = model_rows(Analysis, where={"cad_file": row.pk})
    assert {a.pk: _fields(a) for a in found} == expected and len(found) == 3
    assert len(model_rows(Analysis, where={"cad_file": row.pk, "feature_version": "v4"}, limit=2)) == 2
    assert found[0].cad_file.sha256 == row.sha256
