"""A real Celery worker (prefork, one pool process) on a queue of its own, and a client to send it tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import Celery
from kombu import Exchange, Queue

ROOT = Path(__file__).resolve().parents[1]
# CI's broker (emptied by .ci/run before and after the run), or, without one, a Redis database of the probe's own
OWN_BROKER = "redis://127.0.0.1:6379/6"
BROKER = os.environ.get("CELERY_BROKER_URL") or OWN_BROKER


@dataclass
class ProbeWorker:
    client: Celery
    queue: str
    pid: int
    output: str = ""  # the worker's log, once the block has ended


@contextmanager
def prefork_worker(env: dict, *, name: str) -> Iterator[ProbeWorker]:
    """Starts the worker with ``env`` (Django settings for a subprocess), yields it, then stops it (warm shutdown,
    killed after 30 s) and keeps its log in ``output``."""
    queue = f"{name}-{uuid.uuid4().hex[:8]}"
    backend = BROKER if BROKER.startswith("redis") else "rpc://"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--pool", "prefork", "--concurrency", "1",
         "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env={**env, "CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": backend},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    probe = ProbeWorker(Celery(f"{name}-client", broker=BROKER, backend=backend, set_as_current=False), queue,
                        worker.pid)
    try:
        yield probe
    finally:
        worker.terminate()  # warm shutdown of the main process, which stops its pool
        try:
            probe.output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            probe.output, _ = worker.communicate()
        try:
            if BROKER == OWN_BROKER:
                # the probe's own database: its queue goes, and so does what the worker sent to queues it does not
                # consume (the abandoned-migration check at its start)
                redis.Redis.from_url(BROKER).flushdb()
            else:
                _queue_delete(probe.client, queue)
        finally:
            probe.client.close()


def _queue_delete(client: Celery, name: str) -> None:
    """Delete the worker's queue, this block's own, so that nothing of it stays in the broker. A worker's
    `--queues NAME` is bound to a direct exchange of the same name; kombu's Redis transport deletes only the bindings
    its channel knows, so the binding is declared again, then deleted (its keys go with it)."""
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with client.connection_for_write() as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        bound.delete()
