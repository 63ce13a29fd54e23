"""``BackgroundRunner``: one daemon thread that runs submitted jobs one at a time from a bounded queue, for work a
request hands off so that its response does not wait for it (the thumbnail of a new file in the embedded default,
``features.services.thumbnail_enqueue``). Django-free.

* **lazy**: the thread starts with the first job; hold a runner in a ``cadml_site.process_state.ProcessLocal`` so that
  a forked child builds its own (a thread does not survive a fork);
* **bounded**: ``submit`` refuses a job when ``capacity`` jobs are waiting (False: the caller logs what it skips);
  nothing blocks the caller;
* **around each job** ``before_job()`` and ``after_job()`` run in the runner's thread, and ``on_stop()`` when the
  thread stops (a Django caller drops the thread's stale database connections around each job, as a request does,
  and closes them when the thread stops); a job that raises is logged and the next one runs;
* **drain on exit**: ``close(timeout)`` refuses new jobs, waits at most ``timeout`` seconds for the queued ones and
  stops the thread; it also runs at interpreter exit (atexit, registered when the thread starts, so it runs
  before the exit handlers of what the jobs use, registered earlier). What is left is dropped, counted and logged.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("cadml.background")


class BackgroundRunner:
    def __init__(self, name: str, *, capacity: int, drain_seconds: float,
                 before_job: Callable[[], None] | None = None, after_job: Callable[[], None] | None = None,
                 on_stop: Callable[[], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.name = name
        self.capacity = capacity
        self.drain_seconds = drain_seconds
        self._before_job, self._after_job, self._on_stop = before_job, after_job, on_stop
        self._jobs: collections.deque[tuple[str, Callable[[], None]]] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running: str | None = None  # the label of the job in progress
        self._closed = False
        self._pid = os.getpid()
        self._counts = {"done": 0, "failed": 0, "refused": 0, "dropped": 0}

    def submit(self, job: Callable[[], None], *, label: str) -> bool:
        """Queue ``job`` (``label`` names it in logs); False, without queueing, when the queue is full or the runner
        is closed."""
        with self._cond:
            if self._closed or len(self._jobs) >= self.capacity:
                self._counts["refused"] += 1
                return False
            self._jobs.append((label, job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"background-{self.name}", daemon=True)
                self._thread.start()
                atexit.register(self._close_at_exit)
            self._cond.notify_all()
        return True

    def _hook(self, hook: Callable[[], None] | None, what: str) -> None:
        if hook is not None:
            try:
                hook()
            except Exception:
                logger.exception("%s hook of %s failed", what, self.name)

    def _loop(self) -> None:
        try:
            self._run_jobs()
        finally:
            self._hook(self._on_stop, "stop")

    def _run_jobs(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:  # closed and nothing left
                    return
                label, job = self._jobs.popleft()
                self._running = label
            failed = False
            try:
                self._hook(self._before_job, "before-job")
                job()
            except Exception:
                failed = True
                logger.exception("background job %s of %s failed", label, self.name)
            finally:
                self._hook(self._after_job, "after-job")
                with self._cond:
                    self._running = None
                    self._counts["failed" if failed else "done"] += 1
                    self._cond.notify_all()

    def pending(self) -> int:
        """Jobs queued or in progress."""
        with self._cond:
            return len(self._jobs) + (self._running is not None)

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until every queued job has run (at most ``timeout`` seconds; None: no bound). True when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._running is not None:
                if self._thread is None or not self._thread.is_alive():
                    return False  # nobody left to run them
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float | None = None) -> int:
        """Refuse new jobs, run the queued ones for at most ``timeout`` seconds (default ``drain_seconds``), then
        stop the thread. Returns the number of jobs left unrun (dropped, logged); a job still running at the
        deadline is left to finish in its daemon thread (counted as left)."""
        timeout = self.drain_seconds if timeout is None else timeout
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify_all()
        if already:
            return 0
        atexit.unregister(self._close_at_exit)
        drained = self.wait_idle(timeout)
        with self._cond:
            left = len(self._jobs) + (self._running is not None)
            self._counts["dropped"] += len(self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        if not drained and left:
            logger.warning("%s: %d background job(s) left undone after draining for %.1f s", self.name, left, timeout)
        return left

    def _close_at_exit(self) -> None:
        if os.getpid() == self._pid:  # an inherited handler in a forked child has nothing to drain
            self.close()

    def status(self) -> dict:
        with self._cond:
            return {"queued": len(self._jobs), "running": self._running, "capacity": self.capacity,
                    "thread_alive": self._thread is not None and self._thread.is_alive(), "closed": self._closed,
                    "pid": self._pid, **self._counts}

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread
