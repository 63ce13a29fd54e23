"""A live stack for fault tests on PRIVATE dependencies: its own Postgres cluster and Redis broker, which the test
may stop and start (tests/integration/private_services.py), plus gunicorn (2 workers) and a Celery worker
(tests/integration/live_stack.py).

Unlike the observability stack, it does not use the pytest database: the stack's database lives in the private
cluster, is migrated by ``manage.py migrate`` and given credentials by ``manage.py bootstrap_credentials``, and the
test reads it back with psycopg.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from tests.integration.live_stack import ROOT, LiveStack
from tests.integration.private_services import PrivatePostgres, PrivateRedis


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class FaultStack:
    workdir: Path
    postgres: PrivatePostgres | None
    redis: PrivateRedis | None
    live: LiveStack
    api_key: str = ""
    admin_token: str = ""

    @property
    def base_url(self) -> str:
        return self.live.base_url

    def headers(self, *, ops: bool = False) -> dict[str, str]:
        headers = {"X-API-Key": self.api_key}
        if ops:
            headers["X-Admin-Token"] = self.admin_token
        return headers

    def __enter__(self) -> "FaultStack":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            self.live.stop()
        finally:
            if self.redis is not None:
                self.redis.destroy()
            if self.postgres is not None:
                self.postgres.destroy()


def start_fault_stack(workdir: Path, *, extra_env: dict[str, str] | None = None, celery: bool = True,
                      postgres: bool = True, workers: int = 2, persistent_broker: bool = False) -> FaultStack:
    """gunicorn (+ a Celery worker on a private Redis) on a private Postgres cluster; ``postgres=False``: on a SQLite
    file in ``workdir`` with tasks in process (no broker, no Celery worker)."""
    cluster = PrivatePostgres() if postgres else None
    redis = PrivateRedis(persistent=persistent_broker) if postgres and celery else None
    live = LiveStack(workdir=workdir, env={})
    stack = FaultStack(workdir, cluster, redis, live)
    try:
        multiproc = workdir / "prometheus-multiproc"
        multiproc.mkdir()
        var = workdir / "var"
        (var / "static").mkdir(parents=True)
        env = {**os.environ, "CADML_VAR_DIR": str(var), "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
               "OMP_NUM_THREADS": "1", "CADML_THROTTLE_DEFAULT": "1000000/min",
               "CADML_THROTTLE_UPLOAD": "1000000/min", "CADML_THROTTLE_SENSITIVE": "1000000/min"}
        for name in ("CELERY_RESULT_BACKEND", "REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(name, None)
        if cluster is not None:
            cluster.start()
            cluster.create_database()
            env["DATABASE_URL"] = cluster.url
        else:
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
        if redis is not None:
            redis.start()
            env["CELERY_BROKER_URL"] = redis.url
        env.update(extra_env or {})
        live.env = env
        _manage(env, "migrate", "--noinput")
        _manage(env, "createcachetable")
        credentials = workdir / "credentials"
        _manage(env, "bootstrap_credentials", "--username", "ops-fault", "--file", str(credentials))
        values = dict(line.split("=", 1) for line in credentials.read_text().splitlines() if "=" in line)
        stack.api_key, stack.admin_token = values["API_KEY"], values["ADMIN_TOKEN"]
        live.start_service(workers=workers)
        if redis is not None:
            live.start_celery_worker()
    except BaseException:
        stack.stop()
        raise
    return stack


# ---- observation ------------------------------------------------------------------------------------------------
def metric_total(stack: FaultStack, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` scraped from the stack's /metrics whose labels include ``labels``."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in requests.get(stack.base_url + "/metrics", timeout=30).text.splitlines():
        if line.startswith(name + "{") and all(label in line.split("}", 1)[0] for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def process_alive(pid: int) -> bool:
    """True while ``pid`` is a running process (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---- traffic ----------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (timeout, connection error)
    code: str | None = None
    retry_after: str | None = None
    error: str | None = None
    ack: str | None = None  # what an acknowledged write created (vector key or analysis id)


Request = Callable[[int], tuple[str, str, dict]]  # i -> (method, path, requests kwargs)


@dataclass
class TrafficLoop:
    """One thread per kind, each sending its request in a loop until ``stop()``; every answer is a ``Sample``."""

    base_url: str
    kinds: dict[str, tuple[Request, Callable[[requests.Response], str | None]]]
    timeout: float = 15.0
    pause: float = 0.02
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(kind,), daemon=True) for kind in self.kinds]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _run(self, kind: str) -> None:
        build, acknowledge = self.kinds[kind]
        session = requests.Session()
        i = 0
        while not self._stop.is_set():
            method, path, kwargs = build(i)
            i += 1
            started = time.monotonic()
            try:
                response = session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                sample = Sample(kind, started, time.monotonic(), None, error=type(exc).__name__)
            else:
                code = None
                if response.headers.get("Content-Type", "").startswith("application/problem+json"):
                    code = response.json().get("code")
                ack = acknowledge(response) if response.status_code < 300 else None
                sample = Sample(kind, started, time.monotonic(), response.status_code, code,
                                response.headers.get("Retry-After"), ack=ack)
            with self._lock:
                self.samples.append(sample)
            time.sleep(self.pause)


def random_vector(i: int) -> list[float]:
    """A 24-dimension vector of the fault tests' writes, the same for the same ``i``."""
    return np.random.default_rng(i).uniform(0.0, 10.0, size=24).round(4).tolist()
