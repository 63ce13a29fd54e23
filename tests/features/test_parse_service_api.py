"""The web with ``CADML_PARSE_SERVICE_SOCKET`` set: uploads parse in the host's service; no service is a 503
``parser_unavailable`` with Retry-After (never a 500 or a hang), and health says so."""

from __future__ import annotations

import shutil
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from features.parse_pool import get_parse_pool, parse_pools
from features.parse_service.client import ParseServiceClient
from features.parse_workers.pool import ParsePool

from .parse_service_helpers import Service

URL = "/api/v1/analyze/"
STEP_SAMPLE = "step/pythonocc__test_ocaf.stp"


def upload(client, name: str, data: bytes):
    return client.post(URL, {"file": SimpleUploadedFile(name, data), "classify": "false"}, format="multipart")


@pytest.fixture
def runner_reset():
    parse_pools.reset()
    yield
    parse_pools.reset()


def test_without_a_socket_the_process_keeps_its_own_pool(settings, runner_reset):
    settings.CADML_PARSE_SERVICE_SOCKET = ""
    assert isinstance(get_parse_pool(), ParsePool)


@pytest.mark.django_db
def test_no_service_answers_503_parser_unavailable_with_retry_after(key_client, settings, runner_reset,
                                                                    cad_samples_dir):
    settings.CADML_PARSE_SERVICE_SOCKET = "/tmp/cadml-no-such-parse-service.sock"
    assert isinstance(get_parse_pool(), ParseServiceClient)
    started = time.monotonic()
    response = upload(key_client, "cube.stp", (cad_samples_dir / STEP_SAMPLE).read_bytes())
    assert time.monotonic() - started < 5
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "parser_unavailable" and body["stage"] == "parse"
    assert response["Retry-After"] == "5"
    health = key_client.get("/api/v1/health/").json()["sections"]["parser_pool"]
    assert health["status"] == "down" and health["error"] == "parse_service_unreachable"
    assert "socket" not in health and "/tmp" not in str(health)


@pytest.mark.django_db
def test_uploads_parse_in_the_host_service(key_client, settings, runner_reset, cad_samples_dir):
    service = Service(workers=1)
    try:
        settings.CADML_PARSE_SERVICE_SOCKET = service.socket
        response = upload(key_client, "cube.stp", (cad_samples_dir / STEP_SAMPLE).read_bytes())
        assert response.status_code == 201, response.json()
        assert response.json()["file"]["format"] == "step"
        health = key_client.get("/api/v1/health/").json()["sections"]["parser_pool"]
        assert health["status"] == "ok" and health["mode"] == "service"
        assert health["service_pid"] == service.process.pid and health["tasks"] >= 1
    finally:
        service.stop()


def test_a_celery_worker_adopts_the_host_service_or_starts_its_own(settings):
    from celery.signals import worker_ready, worker_shutdown

    from features.parse_service.client import probe

    # FeaturesConfig.ready() connects the Celery worker's main process to the host's service
    assert any("features.parse_service.start" in str(key) for key, _ in worker_ready.receivers)
    assert any("features.parse_service.stop" in str(key) for key, _ in worker_shutdown.receivers)
    service = Service(workers=1)
    try:
        settings.CADML_PARSE_SERVICE_SOCKET = service.socket
        worker_ready.send(sender=None)  # the host's service answers: used, not duplicated
        assert probe(service.socket)["service_pid"] == service.process.pid
        worker_shutdown.send(sender=None)
        assert service.process.poll() is None  # stopping the worker leaves the host's service running
    finally:
        service.stop()
    settings.CADML_PARSE_SERVICE_SOCKET = service.socket  # now nothing answers there: the worker starts its own
    try:
        worker_ready.send(sender=None)
        own = probe(service.socket)
        assert own is not None and own["service_pid"] != service.process.pid
    finally:
        worker_shutdown.send(sender=None)
        shutil.rmtree(service.dir, ignore_errors=True)
    assert probe(service.socket) is None
