"""`cadml_site.after_response`: work a request hands off starts once its response has been sent (the WSGI server
closed it), not at the commit while the response is still being written; outside a request it runs at once."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from cadml_site.after_response import after_response, deferred_jobs, forget_deferred
from features import services
from features.models import CadFile

from tests.features.cad_builders import make_binary_stl, make_box_triangles


def test_outside_a_request_a_job_runs_at_once():
    ran = []
    after_response(lambda: ran.append(1), label="now")
    assert ran == [1] and deferred_jobs() == 0


def test_a_request_s_jobs_run_in_order_when_it_finishes_and_a_failing_one_is_logged(caplog):
    ran = []
    request_started.send(sender=None, environ={})
    try:
        after_response(lambda: ran.append("first"), label="first")
        after_response(lambda: 1 / 0, label="broken")
        after_response(lambda: ran.append("third"), label="third")
        assert ran == [] and deferred_jobs() == 3
    finally:
        with caplog.at_level(logging.ERROR, logger="cadml.after_response"):
            request_finished.send(sender=None)
    assert ran == ["first", "third"] and deferred_jobs() == 0
    assert "after-response job broken failed" in caplog.text
    after_response(lambda: ran.append("later"), label="later")  # the request is over: at once again
    assert ran[-1] == "later"


def test_jobs_left_by_a_request_whose_end_was_not_signalled_run_when_the_next_one_starts():
    ran = []
    request_started.send(sender=None, environ={})
    after_response(lambda: ran.append("left"), label="left")
    request_started.send(sender=None, environ={})
    try:
        assert ran == ["left"] and deferred_jobs() == 0
    finally:
        request_finished.send(sender=None)


def test_the_test_reset_leaves_a_request_whose_end_was_not_signalled():
    # the test client signals the end of a streamed response only once its content is read
    ran = []
    request_started.send(sender=None, environ={})
    after_response(lambda: ran.append("dropped"), label="dropped")
    assert forget_deferred() == 1 and deferred_jobs() == 0
    after_response(lambda: ran.append("now"), label="now")  # outside a request again: at once
    assert ran == ["now"]


class RecordingRunner:
    capacity = 8

    def __init__(self):
        self.labels: list[str] = []

    def submit(self, job, *, label):
        self.labels.append(label)
        return True


@pytest.mark.django_db(transaction=True)
def test_a_new_file_s_thumbnail_is_handed_to_the_runner_when_the_server_closes_the_response(
        api_key_secret, settings, monkeypatch):
    """As gunicorn serves it: the application called, the body written (iterated), then closed."""
    settings.CADML_EMBEDDED_THUMBNAILS = "background"
    runner = RecordingRunner()
    monkeypatch.setattr(services.thumbnail_runners, "get", lambda: runner)
    upload = io.BytesIO(make_binary_stl(make_box_triangles()))
    upload.name = "box.stl"
    body = encode_multipart(BOUNDARY, {"file": upload, "register_vector": "false", "classify": "false"})
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/analyze/", "SCRIPT_NAME": "", "QUERY_STRING": "",
               "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "testserver", "CONTENT_TYPE": MULTIPART_CONTENT,
               "CONTENT_LENGTH": str(len(body)), "HTTP_X_API_KEY": api_key_secret, "wsgi.input": io.BytesIO(body),
               "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
               "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}
    status = []
    result = WSGIHandler()(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        written = b"".join(result)  # the server writes the response
        assert status[0].startswith("201"), written[:500]
        row = CadFile.objects.get()  # committed
        assert runner.labels == [] and deferred_jobs() == 1  # not handed over while the response was written
    finally:
        result.close()  # the server is done with the response: request_finished
    assert runner.labels == [f"thumbnail of CAD file {row.pk}"] and deferred_jobs() == 0
