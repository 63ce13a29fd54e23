"""Fixtures of the Python client tests: the client package from this repository (clients/python, not a copy
installed elsewhere), and clients driving the real Django app in process through httpx's WSGI transport."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import PROJECT_ROOT

CLIENT_SRC = PROJECT_ROOT / "clients" / "python"
sys.path.insert(0, str(CLIENT_SRC))

import cadml_client  # noqa: E402

assert cadml_client.__file__.startswith(str(CLIENT_SRC)), cadml_client.__file__


@pytest.fixture
def wsgi_transport(db):
    """httpx -> Django's WSGI handler, in this thread and this test's transaction. Like Django's test client, it
    keeps the request signals from closing the test's database connection."""
    import httpx
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield httpx.WSGITransport(app=WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def make_client(wsgi_transport):
    from cadml_client import CadmlClient

    clients = []

    def make(*, api_key: str, admin_token: str | None = None, **kwargs) -> CadmlClient:
        client = CadmlClient("http://testserver", api_key=api_key, admin_token=admin_token,
                             transport=wsgi_transport, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(make_client, api_key_secret):
    """A client with an API key only."""
    return make_client(api_key=api_key_secret)


@pytest.fixture
def ops(make_client, api_key_secret, admin_token_secret):
    """A client with the API key and the admin token of the staff user ops-alice."""
    return make_client(api_key=api_key_secret, admin_token=admin_token_secret)
