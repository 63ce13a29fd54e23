"""Two uploads of the same new content at once: both look the row up before either inserts, one row results (the
insert is ``ON CONFLICT (sha256) DO NOTHING``: the second writer takes the first one's row)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from features import services
from features.models import CadFile
from tests.features.cad_builders import make_binary_stl, make_box_triangles


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_the_same_content_leave_one_row(monkeypatch):
    data = make_binary_stl(make_box_triangles((3.0, 5.0, 7.0)))
    barrier = threading.Barrier(2)
    real_parse = services._parse

    def parse_then_wait(content, name, **options):
        parsed = real_parse(content, name, **options)
        barrier.wait(timeout=30)  # both writers have missed the lookup and parsed before either inserts
        return parsed

    monkeypatch.setattr(services, "_parse", parse_then_wait)
    results, errors = [], []

    def ingest(name):
        try:
            results.append(services.cad_file_ingest(data=data, name=name))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(f"copy-{i}.stl",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert CadFile.objects.count() == 1
    row = CadFile.objects.get()
    assert {result.cad_file.pk for result in results} == {row.pk}
    assert sorted(result.reused for result in results) == [False, True]
    assert row.has_original and row.summary
