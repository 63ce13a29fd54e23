"""A parse service process for tests (`features.parse_service`), and process-tree helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from features.parse_service.client import ParseServiceClient, probe

ROOT = Path(__file__).resolve().parents[2]


def _wait_answering(socket_path: str, seconds: float = 60.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = probe(socket_path)
        if status is not None and status["alive"] == status["workers"]:
            return status
        time.sleep(0.05)
    raise AssertionError(f"no parse service with all workers alive on {socket_path}")


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return True  # a zombie: dead, not reaped yet by a parent that is not us
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    """The children of every thread of `pid` (a child started by a thread is listed under that thread)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found.extend(int(p) for p in (task / "children").read_text().split())
            except FileNotFoundError:
                continue
    except FileNotFoundError:
        return []
    return sorted(found)


def _tree(pid: int) -> list[int]:
    found = [pid]
    for child in _children(pid):
        found.extend(_tree(child))
    return found


class Service:
    """A parse service process started for a test, on a short socket path (sun_path holds 107 bytes)."""

    def __init__(self, *args: str, workers: int = 2):
        self.dir = tempfile.mkdtemp(prefix="cadml-ps-", dir="/tmp")
        self.socket = os.path.join(self.dir, "parse.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "features.parse_service", "--socket", self.socket, "--workers", str(workers),
             *args], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
        self.status = _wait_answering(self.socket)
        self.client = ParseServiceClient(self.socket, timeout_seconds=30.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)
