"""Inference first: background model loads pause while a prediction runs in the same process.

A model load (scan, restricted unpickling, validation) is CPU-bound Python; in a process that also serves
predictions it competes with them for the GIL, so every prediction that overlaps a load would run at about
half speed. ``ForegroundGate`` gives inference priority. ``classify_vector`` wraps each prediction in
``gate().foreground()``; a load calls the ``yield_point`` of its ``gate().pacer()`` at fine-grained points (every
64 KiB of scanned stream, every BUILD of the unpickler, every few objects of the validation walk). While a
prediction is running the load waits at its yield point, off the GIL, until no prediction runs. So that a
process saturated with predictions still converges, a load that has waited ``max_wait`` seconds is granted
one ``grant`` slice of work before it checks again (at most ``grant / (grant + max_wait)`` of the time, 2 %
with the defaults).

The GIL switch interval stays at Python's 5 ms: the yield points, not forced switches, hand the GIL back. A
shorter interval made things worse (bench/bench_model_reload.py, docs/benchmarks.md): a prediction releases
the GIL at every tree, and with a 0.5 ms interval a CPU-bound thread beside it spent 5x its CPU time and 35x
its wall time on switching.

Django-free; one gate per process (``gate()``), held in a ``cadml_site.process_state.ProcessLocal``: a forked
process builds its own (the parent's lock may have been held at fork, its counts are not this process's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cadml_site.process_state import ProcessLocal

YieldPoint = Callable[[], float]


class ForegroundGate:
    def __init__(self, *, max_wait: float = 0.025, grant: float = 0.0005) -> None:
        self.max_wait = max_wait
        self.grant = grant
        self._cond = threading.Condition(threading.Lock())
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        """Predictions in flight in this process."""
        return self._running

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark the enclosed work (one prediction) as foreground: loads pause at their next yield point."""
        with self._cond:
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                if not self._running and self._waiting:
                    self._cond.notify_all()

    def pacer(self) -> YieldPoint:
        """A yield point for one background job. Each call returns the seconds it waited (0.0 when nothing
        runs in the foreground), so that callers with wall-clock limits can leave the waits out."""
        granted_until = 0.0

        def yield_point() -> float:
            nonlocal granted_until
            if not self._running:
                return 0.0
            now = time.perf_counter()
            if now < granted_until:
                return 0.0
            with self._cond:
                self._waiting += 1
                try:
                    drained = self._cond.wait_for(lambda: not self._running, timeout=self.max_wait)
                finally:
                    self._waiting -= 1
            waited = time.perf_counter() - now
            if not drained:
                granted_until = now + waited + self.grant
            return waited

        return yield_point


_process_gate: ProcessLocal[ForegroundGate] = ProcessLocal("modelops.foreground_gate", build=ForegroundGate)


def gate() -> ForegroundGate:
    """This process's gate."""
    return _process_gate.get()
