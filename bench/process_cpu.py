"""CPU seconds of a group of live processes, read from /proc (Linux): the benches that time servers or workers
measure what those processes spent, not only the wall clock."""

from __future__ import annotations

import os
import time

# /proc/PID/stat fields after "(comm)": state ppid pgrp session ... utime (11) stime (12) cutime (13) cstime (14)
_PGRP, _SESSION, _UTIME, _STIME, _CSTIME = 2, 3, 11, 12, 14


def process_cpu_seconds(*, process_group: int | None = None, session: int | None = None,
                        with_reaped_children: bool = False) -> float:
    """User + system CPU seconds of every live process of a process group or of a session (with
    ``with_reaped_children``, also what their reaped children spent)."""
    return sum(process_cpu_by_kind(process_group=process_group, session=session,
                                   with_reaped_children=with_reaped_children).values())


def process_cpu_by_kind(*, process_group: int | None = None, session: int | None = None,
                        with_reaped_children: bool = False) -> dict[str, float]:
    """`process_cpu_seconds` split by the kind of process: "parse pool" (the processes of a multiprocessing
    forkserver: the parse pools' servers and workers, their resource trackers) and "server" (the rest: gunicorn's
    master and workers, a Celery worker)."""
    field, wanted = (_PGRP, process_group) if process_group is not None else (_SESSION, session)
    last = _CSTIME if with_reaped_children else _STIME
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"server": 0, "parse pool": 0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[field]) != wanted:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        kind = "parse pool" if b"from multiprocessing." in command else "server"
        totals[kind] += sum(int(value) for value in fields[_UTIME:last + 1])
    return {kind: ticks_spent / ticks for kind, ticks_spent in totals.items()}


def server_cpu_when_idle(session: int, *, quiet: float = 0.02, limit: float = 120.0) -> float:
    """The server's CPU seconds once it has stopped working (less than `quiet` CPU seconds in a second, e.g. the
    thumbnails still being rendered after the last response), at most `limit` seconds from now."""
    deadline = time.monotonic() + limit
    last = process_cpu_seconds(session=session, with_reaped_children=True)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = process_cpu_seconds(session=session, with_reaped_children=True)
        if now - last < quiet:
            return now
        last = now
    return last
