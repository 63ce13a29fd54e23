"""Thumbnails of stored parts: rendered by a task once the CadFile row commits (from the stored original, in the
parse pool), stored next to the original, served by GET /api/v1/files/{sha256}/thumbnail/ (ETag, 304, 404 until
rendered), shown in the admin, and backfilled by `manage.py render_thumbnails`."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from features.models import CadFile
from features.originals import original_key, thumbnail_key
from features.services import cad_file_ingest, cad_file_thumbnail_render, thumbnail_renders_wait

from .cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines

ANALYZE = "/api/v1/analyze/"


def thumbnail_url(sha256: str) -> str:
    return f"/api/v1/files/{sha256}/thumbnail/"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def is_png(data: bytes) -> bool:
    return Image.open(io.BytesIO(data)).format == "PNG"


def upload_with_its_commit_callbacks(client, data: bytes, name: str, capture) -> list:
    """POST analyze/ of `data`; the on-commit callbacks it left, not run."""
    with capture(execute=False) as callbacks:
        response = client.post(ANALYZE, {"file": SimpleUploadedFile(name, data), "classify": "false",
                                         "register_vector": "false"}, format="multipart")
    assert response.status_code == 201, response.content
    return callbacks


@pytest.mark.django_db
def test_upload_renders_a_thumbnail_after_commit_next_to_the_original(key_client, originals_dir,
                                                                        django_capture_on_commit_callbacks):
    data = make_binary_stl(make_box_triangles())
    sha256 = hashlib.sha256(data).hexdigest()
    callbacks = upload_with_its_commit_callbacks(key_client, data, "box.stl", django_capture_on_commit_callbacks)
    assert len(callbacks) == 1  # enqueued on commit, not rendered inside the request
    pending = key_client.get(thumbnail_url(sha256))
    assert pending.status_code == 404
    assert pending.json()["code"] == "thumbnail_not_ready" and pending.json()["context"]["reason"] == "pending"
    callbacks[0]()
    row = CadFile.objects.get(sha256=sha256)
    assert row.thumbnail_key == thumbnail_key(sha256) == original_key(sha256) + ".thumb.png"
    assert (originals_dir / row.thumbnail_key).is_file() and (originals_dir / row.original_key).is_file()

    served = key_client.get(thumbnail_url(sha256))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert is_png(body_of(served))
    assert served["ETag"] == f'"{sha256}.thumb"'
    assert "max-age=86400" in served["Cache-Control"] and "private" in served["Cache-Control"]
    again = key_client.get(thumbnail_url(sha256), HTTP_IF_NONE_MATCH=served["ETag"])
    assert again.status_code == 304 and again["ETag"] == served["ETag"]


@pytest.mark.django_db
def test_thumbnail_errors_are_problems(key_client, anon_client):
    unknown = key_client.get(thumbnail_url("0" * 64))
    assert unknown.status_code == 404 and unknown.json()["code"] == "cad_file_not_found"
    assert unknown["Content-Type"].startswith("application/problem+json")
    assert anon_client.get(thumbnail_url("0" * 64)).status_code == 401
    row = cad_file_ingest(data=make_dxf_lines(4), name="old.dxf").cad_file
    CadFile.objects.filter(pk=row.pk).update(original_key="")
    missing = key_client.get(thumbnail_url(row.sha256))
    assert missing.status_code == 404 and missing.json()["context"]["reason"] == "original_not_stored"


@pytest.mark.django_db
def test_a_part_with_nothing_to_draw_is_recorded_failed_not_retried(key_client, cad_samples_dir):
    data = (cad_samples_dir / "dxf" / "ezdxf__torus_r2000.dxf").read_bytes()  # one ACIS solid: no curves
    row = cad_file_ingest(data=data, name="torus.dxf").cad_file
    outcome = cad_file_thumbnail_render(cad_file_id=row.pk)
    assert outcome == {"status": "failed", "code": "empty_document"}
    row.refresh_from_db()
    assert row.thumbnail_error == "empty_document" and not row.has_thumbnail
    assert cad_file_thumbnail_render(cad_file_id=row.pk)["status"] == "skipped"
    failed = key_client.get(thumbnail_url(row.sha256))
    assert failed.status_code == 404 and failed.json()["context"]["reason"] == "render_failed"


@pytest.mark.django_db
def test_a_render_reads_the_row_without_its_summary_in_two_statements(django_assert_num_queries):
    row = cad_file_ingest(data=make_binary_stl(make_box_triangles()), name="box.stl").cad_file
    with django_assert_num_queries(2) as captured:  # the row's SELECT, the UPDATE of its thumbnail key
        assert cad_file_thumbnail_render(cad_file_id=row.pk)["status"] == "rendered"
    select = captured.captured_queries[0]["sql"]
    assert select.startswith("SELECT") and '"summary"' not in select and '"meta"' not in select
    assert CadFile.objects.get(pk=row.pk).has_thumbnail


@pytest.mark.django_db
def test_a_new_file_is_drawn_from_what_its_request_held_in_one_statement(key_client, originals_dir, monkeypatch,
                                                                          django_capture_on_commit_callbacks,
                                                                          django_assert_num_queries):
    from features import services
    from features.thumbnails import render_thumbnail

    def no_read(key):
        raise AssertionError(f"the original {key} was read back")

    monkeypatch.setattr(services, "original_read", no_read)
    data = make_binary_stl(make_box_triangles())
    callbacks = upload_with_its_commit_callbacks(key_client, data, "box.stl", django_capture_on_commit_callbacks)
    with django_assert_num_queries(1) as captured:  # the UPDATE of its thumbnail key: no SELECT of the row
        for callback in callbacks:
            callback()
    assert captured.captured_queries[0]["sql"].startswith("UPDATE")
    row = CadFile.objects.get(sha256=hashlib.sha256(data).hexdigest())
    assert row.thumbnail_key == thumbnail_key(row.sha256)
    assert (originals_dir / row.thumbnail_key).read_bytes() == render_thumbnail("stl", data)


@pytest.mark.django_db
def test_a_new_file_above_the_held_size_is_read_back_and_a_failure_is_recorded(key_client, cad_samples_dir,
                                                                               monkeypatch,
                                                                               django_capture_on_commit_callbacks,
                                                                               django_assert_num_queries):
    from features import services

    reads = []
    real_read = services.original_read
    monkeypatch.setattr(services, "original_read", lambda key: reads.append(key) or real_read(key))
    monkeypatch.setattr(services, "THUMBNAIL_HELD_BYTES", 1024)
    drawing = make_dxf_lines(40)
    assert len(drawing) > 1024
    callbacks = upload_with_its_commit_callbacks(key_client, drawing, "lines.dxf", django_capture_on_commit_callbacks)
    with django_assert_num_queries(1):  # still no SELECT of the row
        for callback in callbacks:
            callback()
    row = CadFile.objects.get(sha256=hashlib.sha256(drawing).hexdigest())
    assert reads == [row.original_key] and row.has_thumbnail

    torus = (cad_samples_dir / "dxf" / "ezdxf__torus_r2000.dxf").read_bytes()  # one ACIS solid: nothing to draw
    for callback in upload_with_its_commit_callbacks(key_client, torus, "torus.dxf",
                                                     django_capture_on_commit_callbacks):
        callback()
    failed = CadFile.objects.get(sha256=hashlib.sha256(torus).hexdigest())
    assert failed.thumbnail_error == "empty_document" and not failed.has_thumbnail


@pytest.mark.django_db
def test_backfill_command_renders_the_missing_ones(capsys):
    rows = [cad_file_ingest(data=make_dxf_lines(n), name=f"d{n}.dxf").cad_file for n in (2, 3)]
    assert not CadFile.objects.exclude(thumbnail_key="").exists()  # the on-commit task did not run (test transaction)
    call_command("render_thumbnails", "--dry-run")
    assert "2 file(s)" in capsys.readouterr().out
    call_command("render_thumbnails")
    assert "2 rendered" in capsys.readouterr().out
    assert all(CadFile.objects.get(pk=r.pk).has_thumbnail for r in rows)
    call_command("render_thumbnails")
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.django_db
def test_admin_list_and_detail_show_the_thumbnail(admin_client_logged_in):
    client = admin_client_logged_in
    row = cad_file_ingest(data=make_binary_stl(make_box_triangles()), name="bracket.stl").cad_file
    cad_file_thumbnail_render(cad_file_id=row.pk)
    src = f"/admin/features/cadfile/{row.pk}/thumbnail/"
    assert f'src="{src}"' in client.get("/admin/features/cadfile/").content.decode()
    assert f'src="{src}"' in client.get(f"/admin/features/cadfile/{row.pk}/change/").content.decode()
    picture = client.get(src)
    assert picture.status_code == 200 and is_png(body_of(picture))
    client.logout()
    assert client.get(src).status_code == 302  # the admin's login


@pytest.fixture
def with_a_broker(monkeypatch, django_capture_on_commit_callbacks):
    """Ingest as with CELERY_BROKER_URL set: returns ``ingest(n) -> row`` (its commit callbacks run, then what the
    runner holds), and ``sent``, the ``(cad_file_id, thread)`` of every thumbnail task sent."""
    from cadml_site.celery import app
    from features.tasks import cad_file_thumbnail_task

    sent = []
    monkeypatch.setattr(cad_file_thumbnail_task, "delay",
                        lambda cad_file_id: sent.append((cad_file_id, threading.get_ident())))

    def ingest(n: int) -> CadFile:
        app.conf.task_always_eager = False
        try:
            with django_capture_on_commit_callbacks(execute=True):
                row = cad_file_ingest(data=make_dxf_lines(n), name=f"sent{n}.dxf").cad_file
            assert thumbnail_renders_wait(timeout_seconds=10)
        finally:
            app.conf.task_always_eager = True
        return row
    return ingest, sent


@pytest.mark.django_db
def test_with_a_broker_the_render_is_sent_to_the_workers(with_a_broker):
    ingest, sent = with_a_broker
    row = ingest(6)
    # sent once, after the commit, by the process's runner thread: the caller (a request) did not wait for the broker
    assert [pk for pk, _ in sent] == [row.pk] and sent[0][1] != threading.get_ident()
    row.refresh_from_db()
    assert not row.has_thumbnail  # rendered by a worker, not here


@pytest.mark.django_db
def test_with_a_broker_and_a_full_runner_the_task_is_sent_at_once(with_a_broker, monkeypatch):
    from features import services

    class FullRunner:
        def submit(self, job, *, label):
            return False

    monkeypatch.setattr(services.thumbnail_runners, "get", lambda: FullRunner())
    ingest, sent = with_a_broker
    row = ingest(16)
    assert sent == [(row.pk, threading.get_ident())]


@pytest.mark.django_db
def test_with_a_broker_that_is_down_the_upload_stands_and_the_loss_is_logged(with_a_broker, monkeypatch, caplog):
    from features.tasks import cad_file_thumbnail_task

    def broker_down(cad_file_id):
        raise ConnectionRefusedError("broker down")

    ingest, _ = with_a_broker
    monkeypatch.setattr(cad_file_thumbnail_task, "delay", broker_down)
    row = ingest(17)
    assert CadFile.objects.filter(pk=row.pk).exists()
    assert f"thumbnail task of CAD file {row.pk} not sent" in caplog.text
