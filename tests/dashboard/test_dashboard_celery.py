"""The dashboard's Celery section with a real broker and a real worker (integration: starts a worker)."""

from __future__ import annotations

import time

import pytest

from console.selectors import celery_workers
from tests.celery_probe import BROKER, prefork_worker


def test_without_a_broker_tasks_run_in_process(settings):
    settings.CELERY_BROKER_URL = None
    assert celery_workers({"status": "ok"})["mode"] == "in-process"


def test_an_unreachable_broker_is_down_without_a_ping(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    state = celery_workers({"status": "down", "error": "refused"})
    assert state["status"] == "down" and state["detail"] == "broker unreachable"


@pytest.mark.integration
def test_a_running_worker_answers_the_ping(django_subprocess_env, settings):
    settings.CELERY_BROKER_URL = BROKER
    with prefork_worker(django_subprocess_env, name="dashboard") as worker:
        deadline = time.monotonic() + 60
        state = celery_workers({"status": "ok"}, app=worker.client)
        while state["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.5)
            state = celery_workers({"status": "ok"}, app=worker.client)
    assert state["status"] == "ok" and state["mode"] == "broker"
    assert state["workers"] and all(name.startswith("celery@") for name in state["workers"])
    assert state["detail"] == f"{len(state['workers'])} worker(s) answered"
