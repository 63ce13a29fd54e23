"""The cursor for the statements on every request's path: prepared once per database connection on Postgres
(`cadml_site.postgres_backend.DatabaseWrapper.prepared_cursor`), Django's own cursor on any other database."""

from __future__ import annotations

from django.db import connections


def statement_cursor(using: str = "default"):
    """A cursor (a context manager, as ``connection.cursor()``) for a statement whose text repeats with other
    parameters: a row read by column equality, the joined writes of an analyze, the similarity call's read."""
    connection = connections[using]
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()
