"""A live service for integration tests: gunicorn (2 workers), a Celery worker and a Prometheus server.

All three run as child processes on free loopback ports against the current pytest database (the test database,
``test_<name>`` on Postgres, or the SQLite test file), share one ``PROMETHEUS_MULTIPROC_DIR`` (so counters that the
Celery worker produces are scraped through gunicorn's /metrics), and are stopped by process id.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "prometheus" / "rules" / "cad_ml_phase5_alerts.yaml"
SHIPPED_CONFIG = ROOT / "prometheus" / "prometheus.yml"
# The stack's own Redis database, so that its worker never consumes another test's messages.
STACK_REDIS_BROKER = "redis://127.0.0.1:6379/9"


# The live stack's CADML_METRICS_TOKEN: /metrics answers 401 without it (Prometheus sends it as a bearer token).
METRICS_TOKEN = "live-stack-metrics-" + secrets.token_urlsafe(24)


def current_database_url() -> str:
    """URL of the database pytest-django created for this run (what child processes must use)."""
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def stack_broker_url() -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    if configured and not configured.startswith(("redis://", "rediss://")):
        return configured  # RabbitMQ and friends: the configured broker, as CI gives it
    return STACK_REDIS_BROKER


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # the process group we created: gunicorn and its workers
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _start(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> ManagedProcess:
    log_path = workdir / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return ManagedProcess(name, process, log_path)


def wait_until(predicate, *, timeout: float, interval: float = 0.3, what: str, processes=()) -> None:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        for managed in processes:
            if not managed.alive():
                raise AssertionError(f"{managed.name} exited with {managed.process.returncode} while waiting for "
                                     f"{what}:\n{managed.log_tail()}")
        try:
            if predicate():
                return
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(interval)
    tails = "\n".join(f"--- {m.name}\n{m.log_tail()}" for m in processes)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})\n{tails}")


@dataclass
class LiveStack:
    workdir: Path
    env: dict[str, str]
    base_url: str = ""
    prometheus_url: str = ""
    processes: list[ManagedProcess] = field(default_factory=list)

    # ---- service ------------------------------------------------------------------------------------------------
    def start_service(self, *, workers: int = 2) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {**self.env, "GUNICORN_WORKERS": str(workers), "GUNICORN_BIND": f"127.0.0.1:{port}"}
        gunicorn = _start("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], env, self.workdir)
        self.processes.append(gunicorn)
        wait_until(lambda: requests.get(self.base_url + "/api/v1/health/live/", timeout=2).status_code == 200,
                   timeout=90, what="gunicorn", processes=[gunicorn])

    def start_celery_worker(self, *, name: str = "celery") -> ManagedProcess:
        """A Celery worker (prefork, one child) in its own process group."""
        worker = _start(name, [sys.executable, "-m", "celery", "-A", "cadml_site", "worker", "--pool", "prefork",
                               "--concurrency", "1", "--loglevel", "INFO", "--without-heartbeat",
                               "--without-gossip", "--without-mingle"], self.env, self.workdir)
        self.processes.append(worker)
        wait_until(lambda: "ready." in worker.log_path.read_text(errors="replace"), timeout=90,
                   what="the Celery worker", processes=[worker])
        return worker

    def start_celery_beat(self) -> ManagedProcess:
        """The beat scheduler (``CELERY_BEAT_SCHEDULE``), its schedule file in the work directory."""
        beat = _start("celery-beat", [sys.executable, "-m", "celery", "-A", "cadml_site", "beat", "--loglevel",
                                      "INFO", "--schedule", str(self.workdir / "celery-beat-schedule")],
                      self.env, self.workdir)
        self.processes.append(beat)
        wait_until(lambda: "beat: Starting" in beat.log_path.read_text(errors="replace"), timeout=90,
                   what="Celery beat", processes=[beat])
        return beat

    # ---- Prometheus ---------------------------------------------------------------------------------------------
    def start_prometheus(self, *, interval: str = "1s") -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise AssertionError("the prometheus binary is missing: run .ci/prometheus_checks.sh (installs Debian's "
                                 "prometheus package) first")
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            group["interval"] = interval  # fast evaluation; every expression and 'for:' stays as shipped
        (self.workdir / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
        target = self.base_url.removeprefix("http://")
        scrape = {"job_name": "cadml", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
        token = self.env.get("CADML_METRICS_TOKEN")
        if token:  # the shipped prometheus/prometheus.yml's authorization block, with the token file it names
            shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())["scrape_configs"][0]["authorization"]
            token_file = self.workdir / shipped["credentials_file"]
            token_file.write_text(token)
            token_file.chmod(0o600)
            scrape["authorization"] = {**shipped, "credentials_file": str(token_file)}
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [scrape],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        self.prometheus_url = f"http://127.0.0.1:{port}"
        prometheus = _start("prometheus", [
            binary, f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ], self.env, self.workdir)
        self.processes.append(prometheus)
        wait_until(lambda: requests.get(self.prometheus_url + "/-/ready", timeout=2).status_code == 200,
                   timeout=60, what="prometheus", processes=[prometheus])
        wait_until(lambda: self.query('up{job="cadml"} == 1'), timeout=30, what="the first scrape",
                   processes=[prometheus])

    def query(self, promql: str) -> list[dict]:
        response = requests.get(self.prometheus_url + "/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def rules(self) -> list[dict]:
        response = requests.get(self.prometheus_url + "/api/v1/rules", timeout=10)
        response.raise_for_status()
        return [rule for group in response.json()["data"]["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        for managed in reversed(self.processes):
            managed.stop()


@dataclass
class TwoWorkerGunicorn:
    """A bare gunicorn with 2 workers against the test database (no Celery, no Prometheus): ``base`` is its URL,
    ``log`` its output so far."""

    process: subprocess.Popen
    base: str
    log: list[str] = field(default_factory=list)


def _drain(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


@contextlib.contextmanager
def two_worker_gunicorn(env: dict[str, str], *, boot_timeout: float = 180.0):
    """Starts gunicorn with 2 workers on a free port with ``env`` (``django_subprocess_env`` plus extras), waits until
    it answers health/live and both workers have run their process initialisers, and stops it afterwards."""
    import threading

    port = free_port()
    env = {**env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = TwoWorkerGunicorn(proc, f"http://127.0.0.1:{port}")
    threading.Thread(target=_drain, args=(proc.stdout, server.log), daemon=True).start()

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}: {''.join(server.log)[-3000:]}")
        try:
            answered = requests.get(server.base + "/api/v1/health/live/", timeout=10).status_code == 200
        except requests.RequestException:  # not listening yet, or a worker still booting
            return False
        # gunicorn.conf.py's post_fork logs each worker's initialisers
        return answered and sum("initialised" in line for line in server.log) >= 2

    try:
        wait_until(ready, timeout=boot_timeout, what="gunicorn with 2 initialised workers")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
