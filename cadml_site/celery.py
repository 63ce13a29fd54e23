"""The Celery application: ``celery -A cadml_site worker`` and ``celery -A cadml_site beat``.

Configuration comes from Django settings (``CELERY_*``). Without ``CELERY_BROKER_URL`` tasks run in process
(``task_always_eager``), so the embedded default needs no broker.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from celery import Celery  # noqa: E402
from celery.signals import worker_process_init, worker_process_shutdown  # noqa: E402

app = Celery("cadml_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _broker_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` or an exception it was raised from is a connection failure of the broker or of the Redis
    result backend (kombu's OperationalError, redis-py's ConnectionError/TimeoutError, socket errors). The Redis
    result backend wraps its own as ``RuntimeError("Retry limit exceeded...")`` raised from the ConnectionError."""
    from kombu.exceptions import OperationalError as BrokerOperationalError

    kinds: tuple[type[BaseException], ...] = (BrokerOperationalError, ConnectionError, TimeoutError, OSError)
    try:
        import redis.exceptions

        kinds += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    except ImportError:  # pragma: no cover - redis is installed with the Redis transport
        pass
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, kinds):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def registered_task(name: str):
    """The task registered under ``name``: services name the tasks they enqueue, so that a services module never
    imports a tasks module (tasks import services). The tasks modules are autodiscovered on first use, as a worker
    does at start, so this works in process too when tasks run eagerly."""
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def publish(task, *args):
    """``task.delay(*args)`` for request paths: an unreachable broker becomes ``BrokerUnavailable`` (503 with
    Retry-After) after Celery's publish retries (``CELERY_TASK_PUBLISH_RETRY_POLICY``), never a 500 or a hang.

    ``task`` is a task or its registered name (``registered_task``)."""
    from django.conf import settings

    from cadml_site.errors import BrokerUnavailable

    if isinstance(task, str):
        task = registered_task(task)
    try:
        return task.delay(*args)
    except Exception as exc:
        if not _broker_connection_error(exc):
            raise
        retry_after = settings.CADML_BROKER_RETRY_AFTER_SECONDS
        raise BrokerUnavailable("The task broker is unavailable; the work was not enqueued. Retry later.",
                                stage="enqueue", context={"task": task.name, "retry_after_seconds": retry_after},
                                headers={"Retry-After": str(retry_after)}) from exc


@worker_process_init.connect
def _init_worker_process(**_kwargs) -> None:
    import multiprocessing

    from cadml_site.process_state import freeze_startup_heap, run_process_initializers

    # Prefork pool children are billiard processes: marked daemonic (multiprocessing then refuses to start
    # children) and holding billiard's authkey object (which multiprocessing cannot hand to a forkserver). Our
    # per-process state includes a pool of parse workers that this process owns, starts and stops itself (see
    # worker_process_shutdown below), so give the child a plain multiprocessing identity for it.
    current = multiprocessing.current_process()
    current._config["daemon"] = False
    current._config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))
    run_process_initializers()
    freeze_startup_heap()


@worker_process_shutdown.connect
def _shutdown_worker_process(**_kwargs) -> None:
    from cadml_site.process_state import run_process_finalizers

    run_process_finalizers()


@app.task(name="cadml_site.ping")
def ping(value: str) -> dict:
    """Round-trip probe: which process answered, how its per-process initialisers went, and how many startup
    objects it froze (``freeze_startup_heap``)."""
    import gc

    from cadml_site.process_state import initializer_results

    return {"pong": value, "pid": os.getpid(), "initializers": initializer_results(),
            "frozen_objects": gc.get_freeze_count()}
