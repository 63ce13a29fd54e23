"""Several "hosts" on this machine sharing what hosts share in production.

Shared: one Postgres database (created on the machine's server for the run and dropped after), one broker (a
private Redis, tests/integration/private_services.py), and one storage folder standing for S3 that holds the
originals (``CADML_ORIGINALS_DIR``) and the published index snapshots (``CADML_SNAPSHOTS_DIR``). Each host has its
own ``var/`` folder, its own ``CADML_INDEX_DIR`` (the snapshot its workers map) and its own Prometheus multiprocess
folder, and runs gunicorn and/or a Celery worker (tests/integration/live_stack.py). Everything is stopped by
process id and the database is dropped by ``stop()``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.integration.fault_stack import _manage
from tests.integration.live_stack import LiveStack
from tests.integration.private_services import PrivateRedis

SERVER_URL = os.environ.get("CADML_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
METRICS_TOKEN = "shared-hosts-metrics-" + secrets.token_urlsafe(24)


@dataclass
class SharedDatabase:
    """A throwaway database on the machine's Postgres server."""

    name: str = field(default_factory=lambda: f"cadml_hosts_{secrets.token_hex(4)}")

    @property
    def url(self) -> str:
        return f"{SERVER_URL.replace('postgresql://', 'postgres://')}/{self.name}"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
            connection.execute(sql)

    def create(self) -> None:
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Host:
    name: str
    live: LiveStack

    @property
    def base_url(self) -> str:
        return self.live.base_url

    @property
    def index_dir(self) -> Path:
        return Path(self.live.env["CADML_INDEX_DIR"])

    def logs(self) -> str:
        return "\n".join(m.log_path.read_text(errors="replace") for m in self.live.processes)


@dataclass
class SharedHosts:
    workdir: Path
    database: SharedDatabase = field(default_factory=SharedDatabase)
    redis: PrivateRedis = field(default_factory=PrivateRedis)
    env: dict[str, str] = field(default_factory=dict)
    hosts: list[Host] = field(default_factory=list)
    api_key: str = ""
    admin_token: str = ""

    @property
    def shared_storage(self) -> Path:
        return self.workdir / "shared-storage"

    def start(self, *, extra_env: dict[str, str] | None = None) -> None:
        """Creates the database and the broker, migrates once and issues credentials (shared by every host)."""
        self.database.create()
        self.redis.start()
        env = {**os.environ, "DATABASE_URL": self.database.url, "CELERY_BROKER_URL": self.redis.url,
               "CADML_ORIGINALS_DIR": str(self.shared_storage / "originals"),
               "CADML_SNAPSHOTS_DIR": str(self.shared_storage / "index-snapshots"),
               "CADML_METRICS_TOKEN": METRICS_TOKEN, "OMP_NUM_THREADS": "1",
               "CADML_THROTTLE_DEFAULT": "1000000/min", "CADML_THROTTLE_UPLOAD": "1000000/min",
               "CADML_THROTTLE_SENSITIVE": "1000000/min"}
        for name in ("CELERY_RESULT_BACKEND", "REDIS_URL", "CADML_VAR_DIR", "CADML_INDEX_DIR",
                     "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(name, None)
        env.update(extra_env or {})
        self.env = env
        self.manage("migrate", "--noinput")
        self.manage("createcachetable")
        credentials = self.workdir / "credentials"
        self.manage("bootstrap_credentials", "--username", "ops-hosts", "--file", str(credentials))
        values = dict(line.split("=", 1) for line in credentials.read_text().splitlines() if "=" in line)
        self.api_key, self.admin_token = values["API_KEY"], values["ADMIN_TOKEN"]

    def host_env(self, name: str) -> dict[str, str]:
        folder = self.workdir / name
        var = folder / "var"
        (var / "static").mkdir(parents=True, exist_ok=True)
        (folder / "prometheus-multiproc").mkdir(exist_ok=True)
        return {**self.env, "CADML_VAR_DIR": str(var), "CADML_INDEX_DIR": str(var / "index"),
                "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus-multiproc")}

    def add_host(self, name: str) -> Host:
        """A host's processes are added with ``host.live.start_service`` / ``start_celery_worker``."""
        folder = self.workdir / name
        host = Host(name, LiveStack(workdir=folder, env=self.host_env(name)))
        self.hosts.append(host)
        return host

    def manage(self, *args: str, host: str | None = None) -> str:
        return _manage(self.host_env(host) if host else self.env, *args)

    def headers(self, *, ops: bool = False) -> dict[str, str]:
        headers = {"X-API-Key": self.api_key}
        if ops:
            headers["X-Admin-Token"] = self.admin_token
        return headers

    def stop(self) -> None:
        try:
            for host in reversed(self.hosts):
                host.live.stop()
        finally:
            try:
                self.redis.destroy()
            finally:
                self.database.drop()
