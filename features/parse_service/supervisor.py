"""Keeps one parse service answering on a socket: what a gunicorn master (and a Celery worker whose host has no
service) runs.

``start()`` returns once a service answers: the one already serving the path (another supervisor's: adopted, not
duplicated) or a child it starts (``python -m features.parse_service``, in its own session so a terminal's Ctrl-C
reaches it only through us, told our pid so it stops if we are killed). A monitor thread then checks every
``check_every`` seconds; when our child died (SIGKILL, OOM killer...) or the adopted service stopped answering, it
kills what is left of the dead child's process group (its forkserver and workers) and starts a new child.
``stop()`` ends the monitor and stops our child (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .client import probe

logger = logging.getLogger("cadml.parse_service")

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ParseServiceSupervisor:
    def __init__(self, socket_path: str, *, service_args: list[str] | None = None, check_every: float = 0.5,
                 python: str = sys.executable):
        self.socket_path = socket_path
        self.service_args = list(service_args or [])
        self.check_every = check_every
        self.python = python
        self.child: subprocess.Popen | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def child_pid(self) -> int | None:
        return None if self.child is None else self.child.pid

    def command(self) -> list[str]:
        return [self.python, "-m", "features.parse_service", "--socket", self.socket_path,
                "--parent-pid", str(os.getpid()), *self.service_args]

    def _child_alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def ensure(self) -> str:
        """One check: 'ours' (our child runs), 'adopted' (another service answers) or 'started' (we started one)."""
        with self._lock:
            if self._child_alive():
                return "ours"
            if self.child is not None:
                logger.warning("parse service %s exited (%s); restarting it", self.child.pid, self.child.returncode)
                _kill_group(self.child.pid)
                self.child = None
            if probe(self.socket_path, timeout=1.0) is not None:
                return "adopted"
            self.child = subprocess.Popen(self.command(), cwd=PROJECT_ROOT, start_new_session=True,
                                          stdin=subprocess.DEVNULL)
            self.starts += 1
            logger.info("parse service started: pid %s on %s", self.child.pid, self.socket_path)
            return "started"

    def wait_answering(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = probe(self.socket_path, timeout=1.0)
            if status is not None:
                return status
            if time.monotonic() >= deadline:
                raise RuntimeError(f"no parse service answered on {self.socket_path} within {timeout:g} s")
            if self.child is not None and self.child.poll() is not None:
                self.ensure()  # it exited: another one took the path first (adopted) or it failed (started again)
            time.sleep(0.05)

    def start(self, *, wait_seconds: float = 60.0) -> dict:
        self.ensure()
        status = self.wait_answering(wait_seconds)
        self._stop.clear()
        self._monitor = threading.Thread(target=self._watch, name="parse-service-supervisor", daemon=True)
        self._monitor.start()
        return status

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            try:
                self.ensure()
            except Exception:  # a failed start is retried at the next check
                logger.exception("the parse service could not be started")

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout)
        with self._lock:
            child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        _kill_group(child.pid)


def _kill_group(pid: int) -> None:
    """SIGKILL what is left of a stopped service's process group (its session: it leads it). A service killed with
    SIGKILL leaves its forkserver running as long as a worker is, and a busy worker would go on parsing with no
    wall timeout and nobody to answer; the group id stays reserved while any member lives, so this reaches only
    them."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
