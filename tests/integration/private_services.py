"""Private dependency servers for fault tests: a Postgres cluster and a Redis server that a test may stop.

Never the machine's shared services: each instance lives in a temporary directory, listens on 127.0.0.1 on a free
port, and is stopped (and its directory removed) by the test that started it. Postgres runs as the ``postgres``
user (``initdb`` refuses root), with the binaries of ``pg_config --bindir``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port


def _pg_bindir() -> Path:
    return Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


@dataclass
class PrivatePostgres:
    """A throwaway Postgres cluster: ``start()``, ``stop()`` (fast shutdown, sessions terminated) and ``destroy()``."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cadml-fault-pg-")))
    port: int = field(default_factory=free_port)
    database: str = "cadml_fault"

    def __post_init__(self) -> None:
        self.bindir = _pg_bindir()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        os.chmod(self.root, 0o755)
        result = _as_postgres([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                               "--auth=trust", "--no-sync", "-E", "UTF8"], timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"initdb failed: {result.stdout}\n{result.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\nmax_connections = 60\n")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        result = _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                               "-t", "60", "start"], timeout=90)
        if result.returncode != 0:
            raise AssertionError(f"pg_ctl start failed: {result.stdout}\n{result.stderr}\n{self.log_tail()}")

    def stop(self) -> None:
        result = _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60",
                               "stop"], timeout=90)
        if result.returncode != 0:
            raise AssertionError(f"pg_ctl stop failed: {result.stdout}\n{result.stderr}")

    def running(self) -> bool:
        result = _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"], timeout=30)
        return result.returncode == 0

    def create_database(self) -> None:
        result = _as_postgres([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                               "postgres", self.database], timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"createdb failed: {result.stderr}")

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=self.database,
                             connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A throwaway redis-server (no persistence): ``start()``, ``stop()`` (SIGTERM, then SIGKILL), ``destroy()``."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cadml-fault-redis-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    persistent: bool = False  # append-only file, fsync always: queued messages survive a stop and start


    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is missing (Debian package redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *([] if self.persistent else ["--appendonly", "no"]), "--dir", str(self.root), "--protected-mode", "yes",
             *(["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else [])],
            stdout=(self.root / "redis.log").open("a"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        import redis

        while time.monotonic() < deadline:
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise AssertionError("private redis-server did not answer within 30 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
