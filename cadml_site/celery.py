"""The Celery application: ``celery -A cadml_site worker`` and ``celery -A cadml_site beat``.

Configuration comes from Django settings (``CELERY_*``). Without ``CELERY_BROKER_URL`` tasks run in process
(``task_always_eager``), so the embedded default needs no broker.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from celery import Celery  # noqa: E402
from celery.signals import worker_process_init  # noqa: E402

app = Celery("cadml_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _init_worker_process(**_kwargs) -> None:
    from cadml_site.process_state import run_process_initializers

    run_process_initializers()


@app.task(name="cadml_site.ping")
def ping(value: str) -> dict:
    """Round-trip probe used by the health check and the integration test."""
    return {"pong": value, "pid": os.getpid()}
