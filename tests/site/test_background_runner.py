"""cadml_site.background.BackgroundRunner (Django-free): one lazily started daemon thread per runner, jobs in order
from a bounded queue, a hook after each job in the runner's thread, a bounded drain on close and at interpreter
exit, and a fresh thread in a forked child when held by a ProcessLocal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from cadml_site.background import BackgroundRunner
from cadml_site.process_state import ProcessLocal
from tests.forked_runner import runner_report_from_a_forked_child

ROOT = Path(__file__).resolve().parents[2]


def make(capacity: int = 8, drain_seconds: float = 2.0) -> BackgroundRunner:
    return BackgroundRunner("test", capacity=capacity, drain_seconds=drain_seconds)


def test_jobs_run_in_order_in_one_thread_started_by_the_first_job_with_the_hooks_around_each():
    events: list[tuple[str, int]] = []

    def hook(name):
        return lambda: events.append((name, threading.get_native_id()))

    runner = BackgroundRunner("test", capacity=8, drain_seconds=2.0, before_job=hook("before"),
                              after_job=hook("after"), on_stop=hook("stop"))
    assert runner.thread is None  # lazy: nothing runs before the first job
    for n in range(3):
        assert runner.submit(hook(f"job{n}"), label=f"job{n}")
    assert runner.wait_idle(5)
    assert [name for name, _ in events] == ["before", "job0", "after", "before", "job1", "after",
                                            "before", "job2", "after"]
    assert runner.thread.daemon and runner.thread.is_alive()
    assert runner.status()["done"] == 3
    assert runner.close() == 0
    runner.thread.join(5)
    assert not runner.thread.is_alive() and events[-1][0] == "stop"
    threads = {tid for _, tid in events}
    assert len(threads) == 1 and threads != {threading.get_native_id()}  # all in the runner's one thread


def test_a_full_queue_refuses_without_blocking_and_a_failing_job_does_not_stop_the_thread(caplog):
    release, started = threading.Event(), threading.Event()
    ran = []
    runner = make(capacity=2)

    def blocked():
        started.set()
        release.wait(10)
        raise RuntimeError("render went wrong")

    assert runner.submit(blocked, label="blocked")
    assert started.wait(5)  # taken off the queue: the two places are free again
    assert runner.submit(lambda: ran.append(1), label="one")
    assert runner.submit(lambda: ran.append(2), label="two")
    t0 = time.monotonic()
    assert not runner.submit(lambda: ran.append(3), label="three")
    assert time.monotonic() - t0 < 0.5
    assert runner.status()["refused"] == 1 and runner.pending() == 3
    with caplog.at_level(logging.ERROR, logger="cadml.background"):
        release.set()
        assert runner.wait_idle(5)
    assert ran == [1, 2]
    assert "background job blocked of test failed" in caplog.text
    assert runner.status()["failed"] == 1 and runner.status()["done"] == 2
    runner.close()


def test_close_drains_what_is_queued_and_refuses_new_jobs():
    ran = []
    runner = make()
    gate = threading.Event()
    runner.submit(lambda: gate.wait(5), label="slow")
    for n in range(3):
        runner.submit(lambda n=n: ran.append(n), label=f"job{n}")
    threading.Timer(0.2, gate.set).start()
    assert runner.close(timeout=5) == 0
    assert ran == [0, 1, 2]
    assert not runner.submit(lambda: ran.append(9), label="late") and ran == [0, 1, 2]


def test_close_gives_up_after_its_timeout_and_says_how_many_were_left(caplog):
    release = threading.Event()
    ran = []
    runner = make()
    runner.submit(lambda: release.wait(10), label="stuck")
    runner.submit(lambda: ran.append(1), label="queued")
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cadml.background"):
        left = runner.close(timeout=0.3)
    assert 0.25 <= time.monotonic() - t0 < 2.0
    assert left == 2  # the stuck one and the queued one
    assert "2 background job(s) left undone after draining for 0.3 s" in caplog.text
    release.set()
    runner.thread.join(5)
    assert ran == [] and not runner.thread.is_alive()
    assert runner.status()["dropped"] == 1


EXIT_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cadml_site.background import BackgroundRunner

    out = Path(sys.argv[1])
    runner = BackgroundRunner("exit", capacity=8, drain_seconds=float(sys.argv[2]))
    for n in range(3):
        runner.submit(lambda n=n: (time.sleep(0.4), out.open("a").write(f"{n}\\n")), label=str(n))
    runner.submit(lambda: (time.sleep(30), out.open("a").write("late\\n")), label="long")
    print("leaving", flush=True)  # the main thread ends here: only the exit handlers wait
""")


def test_interpreter_exit_drains_for_at_most_drain_seconds(tmp_path):
    out = tmp_path / "done.txt"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(out), "3.0"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == ["0", "1", "2"]  # the daemon thread was not cut off at exit
    assert elapsed < 20  # the 30 s job was not waited for: the drain stops after 3 s
    assert "1 background job(s) left undone after draining for 3.0 s" in result.stderr


def test_a_forked_child_gets_a_runner_and_thread_of_its_own():
    holder: ProcessLocal[BackgroundRunner] = ProcessLocal("test.background_runner", build=make,
                                                          close=lambda runner: runner.close())
    parent, parent_tids, report = runner_report_from_a_forked_child(holder, wait_seconds=5)
    assert report["exit_status"] == 0
    assert report["idle"] and report["owner_pid"] and not report["same_runner"]
    assert len(report["tids"]) == 1 and report["tids"] != parent_tids
    assert parent.thread.is_alive()  # the parent's thread is untouched
    holder.reset()
    assert not parent.submit(lambda: None, label="after close")
