"""Prepared statements for the statements on every request's path (`cadml_site.postgres_backend`, `prepared_cursor`;
`cadml_site.prepared_statements.statement_cursor`).

Runs against the machine's Postgres server (127.0.0.1:5432, its ``postgres`` database) through a connection of its
own, whatever database the rest of the suite uses; the server's ``pg_prepared_statements`` view lists what the
connection's session has prepared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dj_database_url
import pytest
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext

from cadml_site.postgres_backend.base import DatabaseWrapper, PreparedCursor

SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[2]
STATEMENT = "SELECT %s::int + 1, %s::text"


def _wrapper(options: dict) -> DatabaseWrapper:
    conf = dj_database_url.parse(SERVER, conn_max_age=60, conn_health_checks=True)
    conf["ENGINE"] = "cadml_site.postgres_backend"
    conf["OPTIONS"] = options
    return DatabaseWrapper(ConnectionHandler({"default": conf}).settings["default"], alias="prepared")


@pytest.fixture
def connect(django_db_blocker):
    opened = []

    def connect(options: dict) -> DatabaseWrapper:
        wrapper = _wrapper(options)
        wrapper.ensure_connection()
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield connect
        for wrapper in opened:
            wrapper.close()


def prepared_texts(wrapper: DatabaseWrapper) -> list[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_statement_is_prepared_once_and_answers_as_before(connect):
    wrapper = connect({"prepare_threshold": 5})
    answers = []
    for n in range(3):
        with wrapper.prepared_cursor() as cursor:
            assert isinstance(cursor.cursor, PreparedCursor)
            cursor.execute(STATEMENT, [n, f"part {n}"])
            answers.append(cursor.fetchone())
    assert answers == [(1, "part 0"), (2, "part 1"), (3, "part 2")]
    assert prepared_texts(wrapper) == ["SELECT $1::int + 1, $2::text"]  # once, whatever the parameters


def test_djangos_own_cursor_prepares_nothing(connect):
    wrapper = connect({"prepare_threshold": 5})
    for n in range(8):  # beyond the threshold: client-side binding never prepares
        with wrapper.cursor() as cursor:
            cursor.execute(STATEMENT, [n, "x"])
            assert cursor.fetchone() == (n + 1, "x")
    assert prepared_texts(wrapper) == []


def test_switched_off_it_is_djangos_own_cursor(connect):
    wrapper = connect({"prepare_threshold": None})  # CADML_DATABASE_PREPARED_STATEMENTS=false
    for n in range(3):
        with wrapper.prepared_cursor() as cursor:
            assert not isinstance(cursor.cursor, PreparedCursor)
            cursor.execute(STATEMENT, [n, "x"])
            assert cursor.fetchone() == (n + 1, "x")
    assert prepared_texts(wrapper) == []


def test_the_query_log_shows_the_statement_with_its_parameters(connect):
    wrapper = connect({"prepare_threshold": 5})
    with CaptureQueriesContext(wrapper) as queries:
        for n in range(2):  # the second run is a prepared execution: no text of its own
            with wrapper.prepared_cursor() as cursor:
                cursor.execute(STATEMENT, [n, "it's"])
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT 0::int + 1, 'it''s'::text",
                                                           "SELECT 1::int + 1, 'it''s'::text"]


def _threshold(**overrides) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_", "GUNICORN_"))}
    env.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"], "DATABASE_URL": SERVER}, **overrides)
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(repr(settings.DATABASES['default']['OPTIONS']['prepare_threshold']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_setting_switches_them_off():
    assert _threshold() == "5"
    assert _threshold(CADML_DATABASE_PREPARED_STATEMENTS="false") == "None"
