"""The embedded default (no broker) renders a new file's thumbnail after the response, in this process's thumbnail
runner (`CADML_EMBEDDED_THUMBNAILS=background`, features/thumbnail_runner.py), with committed data: the render
thread cannot see a test's transaction, so these tests use `transaction=True` (the other tests run `inline`)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connections

from cadml_site.process_state import run_process_finalizers
from features import services, thumbnail_runner
from features.models import CadFile
from features.parse_pool import parse_pools
from features.services import cad_file_ingest, thumbnail_renders_wait
from features.thumbnail_runner import thumbnail_runners
from tests.forked_runner import runner_report_from_a_forked_child

from .cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines

ANALYZE = "/api/v1/analyze/"


class GatedRender:
    """Wraps the real renders (`wrap`): records the thread of each call, waits until `release` is set (at most 10 s),
    then renders for real."""

    def __init__(self):
        self.started, self.release, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.threads: list[int] = []

    def wrap(self, real):
        def gated(*args, **kwargs) -> dict:
            self.threads.append(threading.get_ident())
            self.started.set()
            self.release.wait(10)
            try:
                return real(*args, **kwargs)
            finally:
                self.finished.set()

        return gated


@pytest.fixture
def gated_render(monkeypatch):
    """Both renders gated: a file's by its id (`cad_file_thumbnail_render`) and a new file's from what its request
    held (`new_file_thumbnail_render`, every upload's here)."""
    gate = GatedRender()
    for name in ("cad_file_thumbnail_render", "new_file_thumbnail_render"):
        monkeypatch.setattr(services, name, gate.wrap(getattr(services, name)))
    yield gate
    gate.release.set()  # never leave the runner's thread waiting


@pytest.fixture
def background_thumbnails(settings):
    settings.CADML_EMBEDDED_THUMBNAILS = "background"
    thumbnail_runners.reset()
    yield
    thumbnail_runners.reset()


def thumbnail_of(pk: int, *, within: float = 30.0) -> CadFile:
    """The row once its thumbnail is recorded (bounded poll)."""
    deadline = time.monotonic() + within
    while True:
        row = CadFile.objects.get(pk=pk)
        if row.has_thumbnail or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_analyze_answers_before_the_render_which_follows_in_the_background(key_client, originals_dir, gated_render,
                                                                          background_thumbnails):
    data = make_binary_stl(make_box_triangles())
    sha256 = hashlib.sha256(data).hexdigest()
    response = key_client.post(ANALYZE, {"file": SimpleUploadedFile("box.stl", data), "classify": "false",
                                         "register_vector": "false"}, format="multipart")
    assert response.status_code == 201
    assert not gated_render.finished.is_set()  # inline, the render would have run (and waited) before the answer
    assert gated_render.started.wait(10)
    assert gated_render.threads == [thumbnail_runners.current().thread.ident] != [threading.get_ident()]
    pending = key_client.get(f"/api/v1/files/{sha256}/thumbnail/")
    assert pending.status_code == 404 and pending.json()["context"]["reason"] == "pending"

    gated_render.release.set()
    row = thumbnail_of(CadFile.objects.get(sha256=sha256).pk)
    assert row.has_thumbnail and (originals_dir / row.thumbnail_key).is_file()
    assert key_client.get(f"/api/v1/files/{sha256}/thumbnail/").status_code == 200



@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("max_age", [0, 60])
def test_the_runner_thread_keeps_a_connection_as_a_request_would_and_closes_it_when_it_stops(max_age, monkeypatch,
                                                                                           background_thumbnails):
    # the settings dict is shared by every thread's connection to the alias: the runner's thread reads this one
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", max_age)
    runner = thumbnail_runners.get()
    used = []

    def use():
        CadFile.objects.count()
        used.append((connections["default"], connections["default"].connection))

    runner.submit(use, label="first")
    runner.submit(use, label="second")
    assert runner.wait_idle(10) and len(used) == 2  # idle: the hook after the last job has run
    (wrapper, first), (_, second) = used
    assert wrapper is not connections["default"]  # the thread's own, not this thread's
    if max_age == 0:  # closed after every job
        assert first is not second and wrapper.connection is None
    else:  # kept, and reused by the next job within CONN_MAX_AGE
        assert first is second and wrapper.connection is second
    runner.close()
    runner.thread.join(10)
    assert wrapper.connection is None  # closed when the thread stopped


@pytest.mark.django_db(transaction=True)
def test_inline_renders_before_the_response(key_client, settings):
    settings.CADML_EMBEDDED_THUMBNAILS = "inline"
    thumbnail_runners.reset()
    data = make_binary_stl(make_box_triangles(size=(2.0, 2.0, 5.0)))
    response = key_client.post(ANALYZE, {"file": SimpleUploadedFile("tall.stl", data), "classify": "false",
                                         "register_vector": "false"}, format="multipart")
    assert response.status_code == 201
    assert CadFile.objects.get(sha256=hashlib.sha256(data).hexdigest()).has_thumbnail  # no wait: already there
    assert thumbnail_runners.current() is None  # no thread was started


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_skips_the_render_logs_it_and_the_backfill_renders_it(monkeypatch, caplog, capsys,
                                                                           gated_render, background_thumbnails):
    monkeypatch.setattr(thumbnail_runner, "THUMBNAIL_QUEUE_CAPACITY", 1)
    first = cad_file_ingest(data=make_dxf_lines(2), name="first.dxf").cad_file
    assert gated_render.started.wait(10)  # in progress: the one place in the queue is free
    second = cad_file_ingest(data=make_dxf_lines(3), name="second.dxf").cad_file
    with caplog.at_level(logging.WARNING, logger="cadml.features"):
        third = cad_file_ingest(data=make_dxf_lines(4), name="third.dxf").cad_file
    assert (f"thumbnail of CAD file {third.pk} skipped: 1 renders are already waiting in this process "
            "(`manage.py render_thumbnails` renders it)") in caplog.text
    assert thumbnail_runners.current().status()["refused"] == 1

    gated_render.release.set()
    assert thumbnail_of(first.pk).has_thumbnail and thumbnail_of(second.pk).has_thumbnail
    assert thumbnail_runners.current().wait_idle(10)
    assert not CadFile.objects.get(pk=third.pk).has_thumbnail
    call_command("render_thumbnails")
    assert "1 rendered" in capsys.readouterr().out
    assert CadFile.objects.get(pk=third.pk).has_thumbnail


@pytest.mark.django_db(transaction=True)
def test_the_process_finaliser_renders_what_is_queued_before_the_parse_pool_stops(gated_render,
                                                                                   background_thumbnails):
    rows = [cad_file_ingest(data=make_dxf_lines(n), name=f"d{n}.dxf").cad_file for n in (5, 6)]
    assert gated_render.started.wait(10)
    threading.Timer(0.3, gated_render.release.set).start()
    run_process_finalizers()  # gunicorn's worker_exit, Celery's worker_process_shutdown
    assert all(CadFile.objects.get(pk=row.pk).has_thumbnail for row in rows)  # rendered before it returned
    assert thumbnail_runners.current() is None
    assert parse_pools.current() is None  # stopped after the renders: none of them had to start it again


@pytest.mark.django_db(transaction=True)
def test_with_a_broker_nothing_is_rendered_in_process(monkeypatch, background_thumbnails):
    from cadml_site.celery import app
    from features.tasks import cad_file_thumbnail_task

    sent = []
    monkeypatch.setattr(cad_file_thumbnail_task, "delay", lambda cad_file_id: sent.append(cad_file_id))
    app.conf.task_always_eager = False  # as with CELERY_BROKER_URL set (the autouse fixture restores it)
    row = cad_file_ingest(data=make_dxf_lines(7), name="sent.dxf").cad_file
    assert thumbnail_renders_wait(timeout_seconds=10)
    assert sent == [row.pk]  # the runner sent the task: it rendered nothing
    assert not CadFile.objects.get(pk=row.pk).has_thumbnail


def test_a_forked_process_renders_in_a_runner_and_thread_of_its_own():
    parent, parent_tids, report = runner_report_from_a_forked_child(thumbnail_runners)
    assert report["exit_status"] == 0 and report["idle"] and report["owner_pid"] and not report["same_runner"]
    assert len(report["tids"]) == 1 and report["tids"] != parent_tids
    assert thumbnail_runners.current() is parent and parent.thread.is_alive()
    thumbnail_runners.reset()


@pytest.mark.django_db(transaction=True)
def test_manage_py_ingest_waits_for_the_thumbnails_its_process_renders(tmp_path, capsys, gated_render,
                                                                       background_thumbnails):
    for n in (8, 9):
        (tmp_path / f"part{n}.dxf").write_bytes(make_dxf_lines(n))
    threading.Timer(0.5, gated_render.release.set).start()  # the renders wait until after the last ingest
    call_command("ingest", str(tmp_path))
    assert "2 created" in capsys.readouterr().out
    assert gated_render.threads and set(gated_render.threads) != {threading.get_ident()}
    rows = CadFile.objects.filter(original_name__in=["part8.dxf", "part9.dxf"])
    assert rows.count() == 2 and all(row.has_thumbnail for row in rows)  # no polling: done when the command ends
