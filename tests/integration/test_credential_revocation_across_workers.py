"""A key revoked by another process is refused by every gunicorn worker within a second (per-process caches)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from cadml_site.api.authentication import CREDENTIAL_CACHE_SECONDS
from tests.conftest import free_port
from tests.integration.test_gunicorn_multiprocess_metrics import _drain, _wait_ready

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_revocation_reaches_every_worker_within_a_second(django_subprocess_env, make_api_key):
    from cadml_site.api.services import api_key_revoke

    key, secret = make_api_key("revoked-across-workers")
    port = free_port()
    env = {**django_subprocess_env, "GUNICORN_WORKERS": "2", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    threading.Thread(target=_drain, args=(proc.stdout, log), daemon=True).start()
    base = f"http://127.0.0.1:{port}"

    def whoami(_):
        # a fresh connection each time, so that either worker may accept it
        return requests.get(base + "/api/v1/auth/whoami/", headers={"X-API-Key": secret, "Connection": "close"},
                            timeout=60).status_code

    try:
        _wait_ready(base, proc)
        deadline = time.monotonic() + 120
        while sum("initialised" in line for line in log) < 2:
            assert time.monotonic() < deadline, "".join(log)[-3000:]
            time.sleep(0.2)
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert set(pool.map(whoami, range(24))) == {200}  # both workers now hold the key's row
            api_key_revoke(prefix=key.prefix, actor="ops-alice", reason="leaked")  # this process, not theirs
            time.sleep(CREDENTIAL_CACHE_SECONDS + 0.1)
            assert set(pool.map(whoami, range(24))) == {401}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
