"""The parse service's client: a `ParseRunner` (``parse``, ``render``, ``status``) like `ParsePool`, whose work runs
in the host's service.

One connection per call (a Unix-socket connect costs microseconds, and a service restarted between two calls is
simply reached again). A file's own failure comes back as the same `CadParseError` the pool raises (the payload
crosses the socket as ``to_payload()``); a service that is not running, dies during the call or does not answer in
time is `ParsePoolUnavailable` (the web answers 503 ``parser_unavailable`` with Retry-After), never a hang: every
socket operation has a deadline beyond the service's own (which stops the worker at the wall timeout).
"""

from __future__ import annotations

import socket
from typing import Any, Callable

from features.parse_workers.pool import ParsePoolUnavailable, run_while_waiting
from features.parsers.document import CadDocument
from features.parsers.errors import CadParseError

from .protocol import DEFAULT_MAX_DATA_BYTES, ProtocolError, recv_frame, recv_json, send_frame, send_json

CONNECT_TIMEOUT_SECONDS = 2.0
# the service may wait up to one timeout for an idle worker, then one timeout for the task, then replace a worker
REPLY_MARGIN_SECONDS = 10.0


class ParseServiceClient:
    def __init__(self, socket_path: str, *, timeout_seconds: float = 30.0):
        self.socket_path = socket_path
        self.timeout_seconds = timeout_seconds

    def _connect(self, timeout: float) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(min(timeout, CONNECT_TIMEOUT_SECONDS))
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise ParsePoolUnavailable(
                f"the parse service at {self.socket_path} is not running ({type(exc).__name__})") from None
        sock.settimeout(timeout)
        return sock

    def _call(self, request: dict, data: bytes | None, *, reply_timeout: float,
              while_waiting: Callable[[], None] | None = None) -> tuple[dict, socket.socket, Exception | None]:
        """(the reply, the open socket, what `while_waiting` raised: it runs once the request has been sent)."""
        sock = self._connect(reply_timeout)
        try:
            send_json(sock, request)
            if data is not None:
                send_frame(sock, data)
            raised = run_while_waiting(while_waiting)
            return recv_json(sock), sock, raised
        except (OSError, ProtocolError) as exc:
            sock.close()
            raise ParsePoolUnavailable(
                f"the parse service at {self.socket_path} did not answer ({type(exc).__name__})") from None
        except BaseException:  # a KeyboardInterrupt or SystemExit from `while_waiting`: the call is given up
            sock.close()
            raise

    def _run(self, op: str, fmt: str, data: bytes, timeout_seconds: float | None,
             while_waiting: Callable[[], None] | None = None) -> tuple[dict, socket.socket]:
        timeout = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        reply, sock, raised = self._call({"op": op, "fmt": fmt, "timeout_seconds": timeout_seconds}, data,
                                         reply_timeout=2 * timeout + REPLY_MARGIN_SECONDS,
                                         while_waiting=while_waiting)
        if reply.get("ok"):
            if raised is not None:
                sock.close()
                raise raised
            return reply, sock
        sock.close()
        if "error" in reply:
            raise CadParseError.from_payload(reply["error"])
        raise ParsePoolUnavailable(str(reply.get("unavailable") or "the parse service refused the task"))

    def parse(self, fmt: str, data: bytes, *, timeout_seconds: float | None = None,
              while_parsing: Callable[[], None] | None = None) -> CadDocument:
        """As `ParsePool.parse`: `while_parsing` runs in the caller's thread once the service has the upload."""
        reply, sock = self._run("parse", fmt, data, timeout_seconds, while_parsing)
        sock.close()
        return CadDocument.from_dict(reply["document"])

    def render(self, fmt: str, data: bytes, *, timeout_seconds: float | None = None) -> bytes:
        """The PNG thumbnail of `data`, rendered by a service worker (same limits and errors as a parse)."""
        reply, sock = self._run("thumbnail", fmt, data, timeout_seconds)
        try:
            return recv_frame(sock, max_bytes=DEFAULT_MAX_DATA_BYTES)
        except (OSError, ProtocolError) as exc:
            raise ParsePoolUnavailable(
                f"the parse service at {self.socket_path} did not send the thumbnail ({type(exc).__name__})") from None
        finally:
            sock.close()

    def service_status(self, *, timeout: float = 2.0) -> dict[str, Any]:
        """The service's pool status (with ``service_pid``); `ParsePoolUnavailable` when it does not answer."""
        reply, sock, _raised = self._call({"op": "status"}, None, reply_timeout=timeout)
        sock.close()
        if not reply.get("ok"):
            raise ParsePoolUnavailable(str(reply.get("unavailable") or "the parse service refused the status"))
        return reply["status"]

    def status(self) -> dict[str, Any]:
        """Like `ParsePool.status()`, from the service; when it does not answer, a closed pool with no worker alive
        and the reason (a health page reports it down)."""
        try:
            return {"mode": "service", **self.service_status()}
        except ParsePoolUnavailable as exc:
            return {"mode": "service", "socket": self.socket_path, "started": False, "closed": True, "workers": 0,
                    "alive": 0, "idle": 0, "busy": 0, "pids": [], "error": str(exc)}

    def shutdown(self) -> None:
        """Nothing to stop: the service belongs to the host (its supervisor stops it)."""


def probe(socket_path: str, *, timeout: float = 1.0) -> dict[str, Any] | None:
    """The service's status when one answers at `socket_path`, else None."""
    try:
        return ParseServiceClient(socket_path).service_status(timeout=timeout)
    except ParsePoolUnavailable:
        return None
