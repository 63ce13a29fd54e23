"""Resident memory and garbage-collector activity of a worker process, exported as metrics (issue 7).

A ``gc.callbacks`` hook tallies collections per generation in plain integers (it must take no lock: a collection
can start while this thread holds prometheus_client's value lock). The tallies and the resident set size are
published to the metrics of ``cadml_site.metrics`` at the end of a request, at most once per
``PUBLISH_INTERVAL_SECONDS`` per process, so the cost per request is a clock read.
"""

from __future__ import annotations

import gc
import os
import threading
import time

from cadml_site import metrics

PUBLISH_INTERVAL_SECONDS = 1.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_GENERATIONS = len(metrics.GC_GENERATIONS)

# Cumulative tallies written only by the gc callback: [collections, collected, uncollectable] per generation.
_tally = [[0, 0, 0] for _ in range(_GENERATIONS)]
# What this process has already added to the counters; written only by publish() under _publish_lock.
_published = [[0, 0, 0] for _ in range(_GENERATIONS)]
_publish_lock = threading.Lock()
_last_publish = 0.0


def _on_gc(phase: str, info: dict) -> None:
    if phase != "stop":
        return
    row = _tally[info["generation"]]
    row[0] += 1
    row[1] += info.get("collected", 0)
    row[2] += info.get("uncollectable", 0)


def resident_memory_bytes(pid: int | str = "self") -> int:
    """Current resident set size of a process, from ``/proc/<pid>/statm`` (Linux)."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * _PAGE_SIZE


def publish(*, force: bool = False) -> bool:
    """Adds the new gc tallies to the counters and sets the memory gauges; returns whether it published."""
    global _last_publish
    now = time.monotonic()
    if not force and now - _last_publish < PUBLISH_INTERVAL_SECONDS:
        return False
    if not _publish_lock.acquire(blocking=False):
        return False  # another thread of this process is publishing right now
    try:
        _last_publish = now
        for generation in range(_GENERATIONS):
            current = list(_tally[generation])
            label = metrics.GC_GENERATIONS[generation]
            deltas = [current[i] - _published[generation][i] for i in range(3)]
            if deltas[0]:
                metrics.GC_COLLECTIONS_TOTAL.labels(generation=label).inc(deltas[0])
            if deltas[1]:
                metrics.GC_OBJECTS_TOTAL.labels(generation=label, outcome="collected").inc(deltas[1])
            if deltas[2]:
                metrics.GC_OBJECTS_TOTAL.labels(generation=label, outcome="uncollectable").inc(deltas[2])
            _published[generation] = current
        rss = resident_memory_bytes()
        metrics.PROCESS_RESIDENT_MEMORY.set(rss)
        metrics.PROCESS_RESIDENT_MEMORY_MAX.set(rss)
        return True
    finally:
        _publish_lock.release()


def _publish_after_request(sender=None, **kwargs) -> None:
    publish()


def _start_in_process() -> None:
    """After fork: the child starts from the parent's tallies, which the parent publishes itself."""
    for generation in range(_GENERATIONS):
        _published[generation] = list(_tally[generation])
    metrics.preinitialise_labels()  # series exist at 0, so increase() sees the first event
    publish(force=True)


def install() -> None:
    """Hooks the gc callback and the end-of-request publisher (idempotent)."""
    from django.core.signals import request_finished

    from cadml_site.process_state import register_process_initializer

    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    request_finished.connect(_publish_after_request, dispatch_uid="cadml_observability_process_stats")
    register_process_initializer("observability.process_stats", _start_in_process)
