"""The parse service: one `ParsePool` answering every process on the host over a Unix socket.

The pool is the same as the in-process one (forkserver workers, memory limit, wall timeout, kill, replacement);
the service adds only the socket in front of it. One thread per connection; the pool is thread-safe, and a task
waits for an idle worker exactly as it does in process. The socket's path is guarded by an exclusive lock on
``<socket>.lock`` held for the service's lifetime (released by the kernel even on SIGKILL), so two services never
answer on one path: the second exits with ``EXIT_ALREADY_SERVING``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

from features.parse_workers.pool import ParsePool, ParsePoolUnavailable
from features.parsers.errors import CadParseError

from .protocol import DEFAULT_MAX_DATA_BYTES, ProtocolError, recv_frame, recv_json, send_frame, send_json

logger = logging.getLogger("cadml.parse_service")

EXIT_ALREADY_SERVING = 75  # EX_TEMPFAIL; not 3 or 4, which an older gunicorn master reads as a worker boot failure
MAX_SOCKET_PATH_BYTES = 107  # sun_path holds 108 bytes with the terminating NUL
DEFAULT_MAX_CLIENTS = 256


class ServiceAlreadyServing(Exception):
    """Another service holds the lock of this socket path."""


def lock_path(socket_path: str) -> str:
    return socket_path + ".lock"


class ParseService:
    def __init__(
        self,
        socket_path: str,
        pool: ParsePool,
        *,
        max_data_bytes: int = DEFAULT_MAX_DATA_BYTES,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        parent_pid: int | None = None,
    ):
        if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise ValueError(f"a Unix socket path holds at most {MAX_SOCKET_PATH_BYTES} bytes: {socket_path!r}")
        self.socket_path = socket_path
        self.pool = pool
        self.max_data_bytes = max_data_bytes
        self.parent_pid = parent_pid
        self._clients = threading.BoundedSemaphore(max_clients)
        self._stop = threading.Event()
        self._lock_fd: int | None = None
        self._listener: socket.socket | None = None
        self._warmup: threading.Thread | None = None
        self._counts_lock = threading.Lock()
        self.counts = {"connections": 0, "requests": 0, "refused": 0}
        self.started_at = time.time()

    # -- lifecycle -----------------------------------------------------------------------------

    def bind(self) -> None:
        """Take the path's lock, remove a stale socket file, listen (owner-only permissions)."""
        directory = os.path.dirname(self.socket_path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        fd = os.open(lock_path(self.socket_path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServiceAlreadyServing(f"another parse service serves {self.socket_path}") from None
        self._lock_fd = fd
        try:
            os.unlink(self.socket_path)  # left by a service that was killed: we hold the lock, so it is stale
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(self.socket_path)
        finally:
            os.umask(old_umask)
        listener.listen(128)
        listener.settimeout(0.5)
        self._listener = listener

    def stop(self) -> None:
        self._stop.set()

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        # Starting the forkserver imports OCP, ezdxf and trimesh (seconds): in the background, so that the socket
        # answers (status, and tasks that wait for their worker) from the first moment.
        self._warmup = threading.Thread(target=self._start_pool, name="parse-service-warmup", daemon=True)
        self._warmup.start()
        logger.info("parse service %s serving %s with %d workers", os.getpid(), self.socket_path, self.pool.size)
        try:
            while not self._stop.is_set():
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    logger.warning("parse service %s: its supervisor %s is gone; stopping", os.getpid(),
                                   self.parent_pid)
                    break
                try:
                    conn, _ = self._listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                if not self._clients.acquire(blocking=False):
                    self._refuse(conn)
                    continue
                with self._counts_lock:
                    self.counts["connections"] += 1
                threading.Thread(target=self._serve_connection, args=(conn,), name="parse-service-client",
                                 daemon=True).start()
        finally:
            self.close()

    def _start_pool(self) -> None:
        try:
            self.pool.start(wait=False)
        except Exception:  # shut down meanwhile; a task gets ParsePoolUnavailable from the pool itself
            logger.exception("the parse service's pool did not start")

    def close(self) -> None:
        if self._listener is not None:
            try:
                os.unlink(self.socket_path)
            except FileNotFoundError:
                pass
            self._listener.close()
            self._listener = None
        self.pool.shutdown()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    # -- one client ----------------------------------------------------------------------------

    def _refuse(self, conn: socket.socket) -> None:
        with self._counts_lock:
            self.counts["refused"] += 1
        try:
            conn.settimeout(1.0)
            send_json(conn, {"ok": False, "unavailable": "the parse service has too many clients"})
        except OSError:
            pass
        finally:
            conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(None)
            while True:
                try:
                    request = recv_json(conn)
                except ProtocolError:
                    return  # the client closed the connection (or sent garbage): nothing to answer
                with self._counts_lock:
                    self.counts["requests"] += 1
                if not self._answer(conn, request):
                    return
        except OSError:
            return  # the client went away while we answered
        except Exception:  # a bug, not the file's fault: logged; the client sees the connection close (503)
            logger.exception("parse service: a request failed")
        finally:
            conn.close()
            self._clients.release()

    def _answer(self, conn: socket.socket, request: dict) -> bool:
        op = request.get("op")
        if op == "status":
            send_json(conn, {"ok": True, "status": self.status()})
            return True
        if op not in ("parse", "thumbnail"):
            send_json(conn, {"ok": False, "unavailable": f"unknown operation {op!r}"})
            return False
        fmt = request.get("fmt")
        timeout = request.get("timeout_seconds")
        try:
            data = recv_frame(conn, max_bytes=self.max_data_bytes)
        except ProtocolError as exc:
            send_json(conn, {"ok": False, "unavailable": str(exc)})
            return False
        try:
            if op == "parse":
                document = self.pool.parse(fmt, data, timeout_seconds=timeout)
                del data
                send_json(conn, {"ok": True, "document": document.to_dict()})
            else:
                png = self.pool.render(fmt, data, timeout_seconds=timeout)
                del data
                send_json(conn, {"ok": True})
                send_frame(conn, png)
        except CadParseError as exc:
            send_json(conn, {"ok": False, "error": exc.to_payload()})
        except ParsePoolUnavailable as exc:
            send_json(conn, {"ok": False, "unavailable": str(exc)})
        return True

    def status(self) -> dict[str, Any]:
        with self._counts_lock:
            counts = dict(self.counts)
        if self._warmup is not None and self._warmup.is_alive():  # the pool's lock is held while it starts
            pool_status = {"started": False, "closed": False, "workers": self.pool.size, "alive": 0, "idle": 0,
                           "busy": 0, "pids": [], "memory_limit_bytes": self.pool.memory_limit_bytes,
                           "timeout_seconds": self.pool.timeout_seconds, "starting": True}
        else:
            pool_status = self.pool.status()
        return {
            **pool_status,
            "service_pid": os.getpid(),
            "socket": self.socket_path,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "service": counts,
        }


def install_signal_handlers(service: ParseService) -> None:
    def _stop(signum, _frame):
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
