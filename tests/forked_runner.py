"""A background runner held by a ProcessLocal, seen from a forked child (as gunicorn forks a worker)."""

from __future__ import annotations

import json
import os
import threading


def runner_report_from_a_forked_child(holder, wait_seconds: float = 10.0) -> tuple[object, list[int], dict]:
    """Runs one job on `holder.get()` here, then forks: the child takes `holder.get()`, runs one job on it and
    reports. Returns (the parent's runner, the thread ids of the parent's job, the child's report: `same_runner`
    as the parent's, `idle` once its job ran, the `tids` of its job, `owner_pid`: its runner names the child's
    pid, `exit_status`)."""
    parent = holder.get()
    parent_tids: list[int] = []
    parent.submit(lambda: parent_tids.append(threading.get_native_id()), label="parent")
    assert parent.wait_idle(wait_seconds)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the test runner's exit handlers
        try:
            child = holder.get()
            tids: list[int] = []
            child.submit(lambda: tids.append(threading.get_native_id()), label="child")
            idle = child.wait_idle(wait_seconds)
            report = {"same_runner": child is parent, "idle": idle, "tids": tids,
                      "owner_pid": child.status()["pid"] == os.getpid()}
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    report = json.loads(os.read(read, 4096) or b"{}")
    os.close(read)
    return parent, parent_tids, {**report, "exit_status": status}
