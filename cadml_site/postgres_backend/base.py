"""Django's PostgreSQL backend, with a health check that asks the connection's socket before it asks the server, and
prepared statements for the statements on every request's path.

``conn_health_checks`` makes Django check a persistent connection before the first statement of every request:
Django's PostgreSQL backend runs ``SELECT 1``, one round trip per request on top of the request's own statements
(issue 14 counts round trips: a tiny analyze is three statements, and the check made it four). A connection that is
idle and sound has nothing to read: the server speaks only when asked. When the server goes away (a restart, an
administrator's ``pg_terminate_backend``, an idle-session timeout, a reset connection), it sends its last message
and closes the socket, or the peer's reset arrives, and the socket becomes readable. So the check first polls the
socket without waiting: nothing to read, and the client library has not marked the connection closed or broken, means
usable, without a round trip; anything to read (or a poll that fails) falls back to Django's ``SELECT 1``, which
decides. A path that silently drops every packet is caught by neither check before the statement's own timeout.
``tests/site/test_postgres_health_check.py`` kills a server backend under a connection and restarts nothing else.

``prepared_cursor`` gives a cursor whose statements the server parses, analyzes and plans once per connection: the
connection prepares each statement text the first time it runs it and later sends only its name and parameters
(psycopg keeps the last ``prepared_max`` texts per connection, 100 by default). The statements every analyze and
similarity call runs (a row read by ``cadml_site.model_rows``, the joined writes of ``cadml_site.statement_parts``)
are long texts of which only the parameters change; prepared, each costs 0.4-0.6 ms less (docs/benchmarks.md, twelfth
round). It binds parameters on the server (Django's ``ServerBindingCursor``), so a parameter whose type the statement
does not fix is sent untyped and typed by the server; the ORM's own queries keep Django's client-side binding.
``CADML_DATABASE_PREPARED_STATEMENTS=false`` (for a transaction-mode connection pooler that does not track prepared
statements) sets the connection's ``prepare_threshold`` to None, and ``prepared_cursor`` is then Django's own cursor.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base, operations
from psycopg import errors


def socket_quiet(connection) -> bool:
    """Whether the psycopg ``connection``'s socket has nothing to read and no error or hang-up pending, now."""
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no socket any more: let the server check decide
        return False


class PreparedCursor(base.ServerBindingCursor):
    """Server-side binding, every statement prepared (``prepare=True`` unless the caller says otherwise)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):

    def last_executed_query(self, cursor, sql, params):
        """A prepared statement's text as the client-side binding would have sent it (a prepared execution sends only
        the statement's name and its parameters), for the query log and ``CaptureQueriesContext``."""
        if isinstance(cursor, PreparedCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def prepared_cursor(self):
        """A cursor wrapped as ``cursor()`` wraps one (query logging, error translation) whose statements are prepared
        on this connection (`PreparedCursor`); Django's own cursor when prepared statements are switched off."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        if self.connection.prepare_threshold is None:
            return self.cursor()
        with self.wrap_database_errors:
            return self._prepare_cursor(PreparedCursor(self.connection))

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if socket_quiet(connection):
            return True
        return super().is_usable()
