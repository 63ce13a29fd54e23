"""A pool of pre-started parse worker processes with a memory limit, a wall timeout, kill and replacement.

Workers are created with multiprocessing's 'forkserver' context (never a bare fork of a threaded web
process). The forkserver preloads `features.parse_workers.worker`, so OCP/ezdxf/trimesh are imported once in
the forkserver and every worker, including a replacement after a crash, starts warm in milliseconds; it is started
so that it preloads this checkout whatever the current directory (`forkserver_path`).

Each task is sent to one idle worker over its own pipe. If the worker does not answer within the timeout
it is killed (SIGKILL) and replaced; if it dies (segfault, abort, address-space limit) the caller gets
`parse_crashed` and the worker is replaced. The pool is thread-safe.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from features.parse_workers.forkserver_path import forkserver_start
from features.parsers.document import CadDocument
from features.parsers.errors import CadParseError

WORKER_MODULE = "features.parse_workers.worker"
DEFAULT_WORKERS = 2
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_TASKS_PER_WORKER = 500


class ParsePoolUnavailable(Exception):
    """No worker became free in time, or the pool is shut down (the service answers 503)."""


def run_while_waiting(while_waiting: Callable[[], None] | None) -> Exception | None:
    """Run the caller's `while_waiting` (its own work, once the task has been handed over: the upload's original
    written while its parse runs) and return the exception it raised instead of raising it: the runner first collects
    the answer it owes its worker or service, then raises it (unless the task itself failed). A KeyboardInterrupt or
    SystemExit is not held back: the runner gives up the task (`ParsePool` replaces the worker)."""
    if while_waiting is None:
        return None
    try:
        while_waiting()
    except Exception as exc:  # noqa: BLE001 - raised by the runner once the answer is in
        return exc
    return None


@dataclass
class _Worker:
    process: Any
    conn: Any
    started_at: float = field(default_factory=time.monotonic)
    ready: bool = False
    tasks: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "unknown"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit {exitcode}"


class ParsePool:
    def __init__(
        self,
        *,
        workers: int = DEFAULT_WORKERS,
        memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT_BYTES,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_tasks_per_worker: int = DEFAULT_MAX_TASKS_PER_WORKER,
        start_method: str = "forkserver",
        parser_options: dict | None = None,
    ):
        if workers < 1:
            raise ValueError("a parse pool needs at least one worker")
        if start_method not in ("forkserver", "spawn"):
            raise ValueError("start_method must be 'forkserver' or 'spawn' (never fork a threaded process)")
        self.size = workers
        self.memory_limit_bytes = memory_limit_bytes
        self.timeout_seconds = timeout_seconds
        self.max_tasks_per_worker = max_tasks_per_worker
        self.parser_options = dict(parser_options or {})
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload([WORKER_MODULE])
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._task_ids = itertools.count(1)
        self._closed = False
        self._started = False
        self._owner_pid = os.getpid()
        self.stats = {"tasks": 0, "crashes": 0, "timeouts": 0, "replacements": 0, "memory_limit": 0}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, *, wait: bool = True, wait_seconds: float = 60.0) -> "ParsePool":
        with self._lock:
            if self._closed:
                raise ParsePoolUnavailable("the parse pool is shut down")
            if self._started:
                return self
            if self._ctx.get_start_method() == "forkserver":
                forkserver_start()  # preloading this checkout's worker, whatever the current directory
            for _ in range(self.size):
                worker = self._spawn()
                self._all.append(worker)
                self._idle.append(worker)
            self._started = True
        if wait:
            deadline = time.monotonic() + wait_seconds
            for worker in list(self._all):
                if not self._await_ready(worker, deadline):
                    raise ParsePoolUnavailable(
                        f"parse worker {worker.pid} did not start ({_signal_name(worker.process.exitcode)});"
                        " is the main module import-safe (guarded by `if __name__ == '__main__'`)?"
                    )
        return self

    def _spawn(self) -> _Worker:
        from .worker import worker_main

        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_conn, self.memory_limit_bytes, self.parser_options),
            name="cadml-parse-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Worker(process=process, conn=parent_conn)

    def _await_ready(self, worker: _Worker, deadline: float) -> bool:
        if worker.ready:
            return True
        remaining = max(0.0, deadline - time.monotonic())
        try:
            if worker.conn.poll(remaining):
                message = worker.conn.recv()
                if isinstance(message, tuple) and message and message[0] == "ready":
                    worker.ready = True
                    return True
        except (EOFError, OSError):
            pass
        return False

    def shutdown(self, *, timeout: float = 3.0) -> None:
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = list(self._all), [], []
            self._lock.notify_all()
        if os.getpid() != self._owner_pid:
            return  # a forked child does not own these processes
        for worker in workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
            worker.conn.close()

    # -- work ----------------------------------------------------------------------------------

    def _acquire(self, deadline: float) -> _Worker:
        with self._lock:
            if not self._started and not self._closed:
                self.start(wait=False)  # the condition's lock is re-entrant
            self._reap_dead_idle()
            while not self._idle:
                if self._closed:
                    raise ParsePoolUnavailable("the parse pool is shut down")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ParsePoolUnavailable("all parse workers stayed busy")
                self._lock.wait(remaining)
            if self._closed:
                raise ParsePoolUnavailable("the parse pool is shut down")
            return self._idle.pop(0)  # FIFO: every worker takes turns

    def _reap_dead_idle(self) -> None:
        """Replace idle workers that died (killed from outside, for instance); called under the lock."""
        for worker in [w for w in self._idle if not w.process.is_alive()]:
            self._idle.remove(worker)
            self._all.remove(worker)
            worker.process.join(0.1)
            try:
                worker.conn.close()
            except OSError:
                pass
            self.stats["replacements"] += 1
            fresh = self._spawn()
            self._all.append(fresh)
            self._idle.append(fresh)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                return
            self._idle.append(worker)
            self._lock.notify()

    def _replace(self, worker: _Worker, *, reason: str) -> None:
        """Kill `worker` (if still alive) and put a fresh one in its place."""
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5.0)
        try:
            worker.conn.close()
        except OSError:
            pass
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            if self._closed:
                return
            self.stats["replacements"] += 1
            fresh = self._spawn()
            self._all.append(fresh)
            self._idle.append(fresh)
            self._lock.notify()

    def parse(self, fmt: str, data: bytes, *, timeout_seconds: float | None = None,
              while_parsing: Callable[[], None] | None = None) -> CadDocument:
        """The summary of `data`. `while_parsing`, when given, runs in the caller's thread once the worker has the
        upload (`run_while_waiting`); what it raises is raised once the worker has answered, unless the parse failed."""
        return CadDocument.from_dict(self._run("parse", fmt, data, timeout_seconds, while_parsing))

    def render(self, fmt: str, data: bytes, *, timeout_seconds: float | None = None) -> bytes:
        """The PNG thumbnail of `data` (`features.thumbnails`), rendered in a worker under the same memory limit,
        wall timeout and kill as a parse; its failures are the same CadParseErrors."""
        return self._run("thumbnail", fmt, data, timeout_seconds)

    def _run(self, op: str, fmt: str, data: bytes, timeout_seconds: float | None,
             while_waiting: Callable[[], None] | None = None):
        timeout = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        worker = self._acquire(time.monotonic() + timeout)
        while not worker.process.is_alive():  # died while idle (killed from outside): replace it
            self._replace(worker, reason="dead_idle")
            worker = self._acquire(time.monotonic() + timeout)
        task_id = next(self._task_ids)
        with self._lock:
            self.stats["tasks"] += 1
        started = time.monotonic()
        deadline = started + timeout
        try:
            worker.conn.send((task_id, fmt, op))
            worker.conn.send_bytes(data)
        except (BrokenPipeError, OSError):
            pass  # the worker died while receiving (e.g. the upload alone broke its memory limit): see below
        try:
            raised = run_while_waiting(while_waiting)
        except BaseException:  # the process is stopping: the worker's answer will not be collected
            self._replace(worker, reason="abandoned")
            raise
        while True:
            remaining = deadline - time.monotonic()
            try:
                # poll(0) still takes an answer already there (one that came while `while_waiting` ran)
                has_reply = worker.conn.poll(max(0.0, remaining))
            except (EOFError, OSError):
                has_reply = True
            if not has_reply:
                with self._lock:
                    self.stats["timeouts"] += 1
                self._replace(worker, reason="timeout")
                raise CadParseError(
                    f"parsing took longer than {timeout:g} s; the worker was stopped",
                    code="parse_timeout",
                    context={"timeout_seconds": timeout, "format": fmt},
                )
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join(5.0)
                exitcode = worker.process.exitcode
                with self._lock:
                    self.stats["crashes"] += 1
                self._replace(worker, reason="crash")
                raise CadParseError(
                    "the parser process crashed on this file; it was replaced",
                    code="parse_crashed",
                    context={"format": fmt, "exit": _signal_name(exitcode)},
                ) from None
            kind = reply[0]
            if kind == "ready":
                worker.ready = True
                continue
            if reply[1] not in (task_id, None):  # one task per worker: a stale answer is a protocol error
                self._replace(worker, reason="protocol")
                raise ParsePoolUnavailable("a parse worker answered out of turn")
            break
        worker.tasks += 1
        if kind == "ok":
            self._recycle_or_release(worker, recycle=False)
            if raised is not None:
                raise raised
            return reply[2]
        error = CadParseError.from_payload(reply[2])
        if error.code == "parse_memory_limit":
            with self._lock:
                self.stats["memory_limit"] += 1
        self._recycle_or_release(worker, recycle=bool(reply[3]))
        raise error

    def _recycle_or_release(self, worker: _Worker, *, recycle: bool) -> None:
        if recycle or worker.tasks >= self.max_tasks_per_worker:
            self._replace(worker, reason="recycle")
        else:
            self._release(worker)

    # -- introspection -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            workers = list(self._all)
            idle = len(self._idle)
            stats = dict(self.stats)
            started, closed = self._started, self._closed
        alive = sum(1 for w in workers if w.process.is_alive())
        return {
            "started": started,
            "closed": closed,
            "workers": self.size,
            "alive": alive,
            "idle": idle,
            "busy": len(workers) - idle,
            "pids": [w.pid for w in workers],
            "memory_limit_bytes": self.memory_limit_bytes,
            "timeout_seconds": self.timeout_seconds,
            **stats,
        }
