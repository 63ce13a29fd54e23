"""gunicorn with two workers and ``CADML_PARSE_SERVICE_SOCKET``: the master starts one parse service that both
workers use (one forkserver on the host), and restarts it when it is killed under traffic; meanwhile uploads are
answered 201 or 503 ``parser_unavailable`` with Retry-After, never a 500 or a hang."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.features.cad_builders import make_dxf_lines
from tests.features.parse_service_helpers import _children, _tree, _wait_gone

ROOT = Path(__file__).resolve().parents[2]


def _drain(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _parser_pool(base: str) -> dict:
    response = requests.get(base + "/api/v1/health/", headers={"Connection": "close"}, timeout=30)
    return response.json()["sections"]["parser_pool"]


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.integration
def test_two_gunicorn_workers_share_one_parse_service_which_the_master_restarts(django_subprocess_env,
                                                                                 make_api_key):
    _, secret = make_api_key("parse-service-client")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="cadml-ps-", dir="/tmp")
    socket_path = os.path.join(directory, "parse.sock")
    env = {**django_subprocess_env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "CADML_PARSE_SERVICE_SOCKET": socket_path, "CADML_PARSE_WORKERS": "2"}
    # %(p)s: the pid of the worker that answered each request
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                             "--access-logformat", "access pid=%(p)s %(r)s %(s)s"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    threading.Thread(target=_drain, args=(proc.stdout, log), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    tree: list[int] = []
    try:
        first = _wait_for(lambda: (lambda s: s["status"] == "ok" and s)(_parser_pool(base)), 180,
                          "a healthy parse service")
        service_pid = first["service_pid"]
        _wait_for(lambda: sum("initialised" in line for line in log) >= 2, 120, "two initialised workers")
        master = proc.pid
        workers = [pid for pid in _children(master) if pid != service_pid]
        assert len(workers) == 2 and service_pid in _children(master), (_children(master), service_pid)

        # every answer, from both workers, names the same service; the access log says who answered
        with ThreadPoolExecutor(max_workers=4) as executor:
            pids = set(section["service_pid"] for section in executor.map(lambda _: _parser_pool(base), range(40)))
        assert pids == {service_pid}
        answered = set(re.findall(r"access pid=<(\d+)> GET /api/v1/health/ ", "".join(log)))
        assert answered == {str(pid) for pid in workers}, "".join(log)[-3000:]

        # one forkserver on the whole tree, under the service; the web workers own no parse process
        tree = _tree(master)
        forkservers = [pid for pid in tree if "multiprocessing.forkserver" in _cmdline(pid)
                       and "multiprocessing.forkserver" not in _cmdline(int(Path(f"/proc/{pid}/stat")
                                                                            .read_text().split(")")[1].split()[1]))]
        assert len(forkservers) == 1 and forkservers[0] in _tree(service_pid)
        assert all(_children(pid) == [] for pid in workers)

        # kill -9 the service under traffic: 201 or 503 parser_unavailable with Retry-After, and a new service
        counter = {"n": 10}
        lock = threading.Lock()
        results: list[tuple[int, dict, str | None]] = []
        stop = threading.Event()

        def upload_loop():
            while not stop.is_set():
                with lock:
                    counter["n"] += 1
                    n = counter["n"]
                response = requests.post(base + "/api/v1/analyze/", headers={"X-API-Key": secret},
                                         files={"file": (f"part{n}.dxf", make_dxf_lines(n))},
                                         data={"classify": "false"}, timeout=120)
                results.append((response.status_code, response.json(), response.headers.get("Retry-After")))

        with ThreadPoolExecutor(max_workers=2) as executor:
            loops = [executor.submit(upload_loop) for _ in range(2)]
            _wait_for(lambda: len(results) >= 4, 120, "uploads before the kill")
            os.kill(service_pid, signal.SIGKILL)
            killed_at = len(results)
            restarted = _wait_for(lambda: (lambda s: s.get("service_pid") not in (None, service_pid)
                                           and s["status"] == "ok" and s)(_parser_pool(base)), 120,
                                  "the master to restart the parse service")
            _wait_for(lambda: sum(1 for status, _, _ in results[killed_at:] if status == 201) >= 4, 120,
                      "uploads served by the new service")
            stop.set()
            for loop in loops:
                loop.result(timeout=180)
        statuses = {status for status, _, _ in results}
        assert statuses <= {201, 503}, [r for r in results if r[0] not in (201, 503)]
        for status, body, retry_after in results:
            if status == 503:
                assert body["code"] == "parser_unavailable" and retry_after, body
        assert restarted["service_pid"] in _children(master)  # the master started the new one
        assert _wait_gone(service_pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(directory, ignore_errors=True)
    # the master stopped its service on exit: nothing of the tree is left
    assert all(_wait_gone(pid) for pid in _tree(proc.pid) + tree if pid != proc.pid)
