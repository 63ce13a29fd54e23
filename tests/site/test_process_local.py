"""``ProcessLocal``: the one holder of a per-process runtime (no database needed)."""

from __future__ import annotations

import os

from cadml_site.process_state import ProcessLocal, process_local, reset_process_locals


class Runtime:
    built = 0

    def __init__(self):
        Runtime.built += 1
        self.pid, self.started, self.closed, self.converged = os.getpid(), False, False, 0


def make(name="test.runtime", **kwargs):
    return ProcessLocal(name, build=Runtime, start=lambda r: setattr(r, "started", True),
                        close=lambda r: setattr(r, "closed", True),
                        converge=lambda r: setattr(r, "converged", r.converged + 1), **kwargs)


def test_built_lazily_once_and_started():
    holder = make()
    assert holder.current() is None
    first = holder.get()
    assert first.started and holder.get() is first and holder.current() is first


def test_reset_closes_what_this_process_built_and_the_next_get_builds_anew():
    holder = make()
    first = holder.get()
    holder.reset()
    assert first.closed and holder.current() is None
    assert holder.get() is not first


def test_restart_is_a_fresh_started_runtime():
    holder = make()
    first = holder.get()
    holder.restart()
    assert first.closed and holder.current() is not first and holder.current().started


def test_convergence_runs_at_most_once_per_interval_unless_forced():
    holder = make(converge_every=3600)
    runtime = holder.get()
    holder.converge_if_due()
    holder.converge_if_due()
    assert runtime.converged == 0  # the interval starts when the runtime is built
    holder.converge_if_due(force=True)
    assert runtime.converged == 1
    fast = make("test.fast", converge_every=0)
    fast.converge_if_due()
    fast.converge_if_due()
    assert fast.current().converged == 2


def test_a_forked_child_never_uses_nor_closes_the_parents_runtime():
    holder = make()
    parent = holder.get()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the test runner's exit handlers
        try:
            inherited = holder.current()
            holder.reset()
            child = holder.get()
            ok = inherited is None and not parent.closed and child is not parent and child.pid == os.getpid()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and status == 0
    assert holder.current() is parent and not parent.closed


def test_every_holder_is_registered_and_reset_together():
    a, b = make("test.a"), make("test.b")
    ra, rb = a.get(), b.get()
    assert process_local("test.a") is a
    reset_process_locals()
    assert ra.closed and rb.closed and a.current() is None and b.current() is None
