"""A key revoked by another process is refused by every gunicorn worker within a second (per-process caches)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cadml_site.api.authentication import CREDENTIAL_CACHE_SECONDS
from tests.integration.live_stack import two_worker_gunicorn


@pytest.mark.integration
def test_revocation_reaches_every_worker_within_a_second(django_subprocess_env, make_api_key):
    from cadml_site.api.services import api_key_revoke

    key, secret = make_api_key("revoked-across-workers")
    with two_worker_gunicorn(django_subprocess_env) as server:

        def whoami(_):
            # a fresh connection each time, so that either worker may accept it
            return requests.get(server.base + "/api/v1/auth/whoami/",
                                headers={"X-API-Key": secret, "Connection": "close"}, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert set(pool.map(whoami, range(24))) == {200}  # both workers now hold the key's row
            api_key_revoke(prefix=key.prefix, actor="ops-alice", reason="leaked")  # this process, not theirs
            time.sleep(CREDENTIAL_CACHE_SECONDS + 0.1)
            assert set(pool.map(whoami, range(24))) == {401}
