"""Django's PostgreSQL backend, with a health check that asks the connection's socket before it asks the server.

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
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


def socket_quiet(connection) -> bool:
    """Whether the psycopg ``connection``'s socket has nothing to read and no error or hang-up pending, now."""
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no socket any more: let the server check decide
        return False


class DatabaseWrapper(base.DatabaseWrapper):

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if socket_quiet(connection):
            return True
        return super().is_usable()
