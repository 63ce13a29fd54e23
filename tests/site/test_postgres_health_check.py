"""The PostgreSQL backend's connection health check: no round trip for a sound idle connection, a dead one found.

Runs against the machine's Postgres server (127.0.0.1:5432, its ``postgres`` database) through a connection of its
own, whatever database the rest of the suite uses.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoPostgresWrapper
from django.db.utils import ConnectionHandler

from cadml_site.postgres_backend.base import DatabaseWrapper, socket_quiet

SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def connection(django_db_blocker):
    conf = dj_database_url.parse(SERVER, conn_max_age=60, conn_health_checks=True)
    conf["ENGINE"] = "cadml_site.postgres_backend"
    settings_dict = ConnectionHandler({"default": conf}).settings["default"]  # the defaults Django fills in
    with django_db_blocker.unblock():
        wrapper = DatabaseWrapper(settings_dict, alias="health")
        wrapper.ensure_connection()
        yield wrapper
        wrapper.close()


@pytest.fixture
def round_trips(monkeypatch):
    """Cursors opened on any psycopg connection (Django's SELECT 1 opens one): the health check's round trips."""
    opened = []
    real = psycopg.Connection.cursor

    def counting(self, *args, **kwargs):
        opened.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "cursor", counting)
    return opened


def test_a_sound_idle_connection_is_usable_without_a_round_trip(connection, round_trips):
    assert connection.is_usable() and round_trips == []
    assert DjangoPostgresWrapper.is_usable(connection) and len(round_trips) == 1  # Django's own check: SELECT 1
    with connection.cursor() as cursor:  # still sound after statements
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    round_trips.clear()
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert round_trips == [] and connection.connection is not None


def test_a_connection_whose_server_backend_was_killed_is_found_and_replaced(connection):
    pid = connection.connection.info.backend_pid
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN | select.POLLHUP)
    assert poller.poll(5000), "the server's goodbye never reached the socket"
    assert not socket_quiet(connection.connection)
    assert connection.is_usable() is False
    connection.health_check_done = False
    connection.close_if_health_check_failed()  # what Django does before the first statement of a request
    assert connection.connection is None
    with connection.cursor() as cursor:  # the request's statement runs on a new connection
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_a_closed_connection_is_not_usable(connection, round_trips):
    connection.connection.close()
    assert connection.is_usable() is False and round_trips == []


def test_a_postgres_database_url_uses_this_backend():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"], "DATABASE_URL": SERVER})
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cadml_site.postgres_backend"
