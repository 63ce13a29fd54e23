"""Tasks whose results nobody reads ask for none: over a real AMQP broker with the rpc result backend (the default
with an amqp broker), a thumbnail task is sent without declaring a reply queue (a broker round trip per new file) and
tells the worker not to send a result back (which would wait unread in the sender's reply queue)."""

from __future__ import annotations

import os
import uuid

import amqp.exceptions
import pytest
from celery import Celery

import features.tasks  # noqa: F401  registers the shared tasks (in every app)
from cadml_site.celery import app

AMQP_URL = os.environ.get("CADML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

# The tasks whose results a caller reads: `manage.py ingest` waits for its imports; ops ask a worker for its cache
# state; the round-trip probe answers who ran it.
RESULTS_READ = {"features.cad_file_import", "features.cad_file_import_stored", "cachectl.process_cache_state",
                "cadml_site.ping"}


def test_every_task_whose_result_nobody_reads_ignores_it():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert RESULTS_READ <= set(ours)
    assert {name for name, task in ours.items() if not task.ignore_result} == RESULTS_READ


def test_a_thumbnail_task_sent_over_amqp_asks_for_no_result(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to the broker an app is given
    queue = f"thumbnail-send-probe-{uuid.uuid4().hex[:8]}"
    sender = Celery("thumbnail-send-probe", broker=AMQP_URL, backend="rpc://", set_as_current=False)
    sender.conf.update(task_default_queue=queue, task_serializer="json", accept_content=["json"])
    task = sender.tasks["features.cad_file_thumbnail"]  # a shared task: registered in every app, this one too
    try:
        result = task.delay(7)
        assert result.ignored
        with sender.connection_for_write(AMQP_URL) as connection:
            assert connection.transport_cls == "amqp"
            channel = connection.channel()
            message = channel.basic_get(queue=queue, no_ack=True)
            assert message is not None, "the task did not reach the broker"
            assert message.headers["task"] == "features.cad_file_thumbnail"
            assert message.headers["ignore_result"] is True  # the worker sends nothing back
            with pytest.raises(amqp.exceptions.NotFound):  # no reply queue was declared for it
                connection.channel().queue_declare(queue=sender.thread_oid, passive=True)
    finally:
        with sender.connection_for_write(AMQP_URL) as connection:
            channel = connection.channel()
            channel.queue_delete(queue=queue)
            try:
                connection.channel().queue_delete(queue=sender.thread_oid)
            except amqp.exceptions.NotFound:
                pass
        sender.close()
