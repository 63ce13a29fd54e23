"""Shared set-up of the Django-level benchmarks (vectors, request overhead): a private var/ folder, a database,
migrations."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cadml_vectors_bench"


def bench_environment(database_url: str, *, code_root: Path = ROOT, var_prefix: str = "cadml-vector-bench-",
                      extra_env: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> dict[str, str]:
    """Environment for this process and its children (gunicorn): private var dir, fresh Postgres database, plus
    ``extra_env`` and without the variables named in ``unset``; Django is set up from ``code_root`` and migrated."""
    if database_url.startswith("postgres"):
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(48),
        "CADML_VAR_DIR": tempfile.mkdtemp(prefix=var_prefix),
        "DATABASE_URL": database_url,
        "OMP_NUM_THREADS": "1",
        "CADML_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    os.environ.update(env)
    for name in unset:
        os.environ.pop(name, None)
    os.makedirs(os.path.join(env["CADML_VAR_DIR"], "static"), exist_ok=True)
    sys.path.insert(0, str(code_root))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return {**os.environ}


def drop_database(database_url: str) -> None:
    if database_url.startswith("postgres"):
        import psycopg
        from django.db import connections

        connections.close_all()
        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
