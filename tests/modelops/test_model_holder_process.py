"""The active-model holder and the foreground gate are per-process (``ProcessLocal``): a forked process never
serves its parent's model nor waits on its parent's predictions; the process initialiser loads the active model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cadml_site.process_state import _initializers
from modelops import foreground
from modelops.registry import holder
from modelops.services import model_reload


def _in_a_forked_child(check) -> bool:
    """Runs ``check()`` in a forked child; True when it returned True there."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the test runner's exit handlers
        try:
            os.write(write, b"1" if check() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    return os.read(read, 1) == b"1" and status == 0


@pytest.mark.django_db
def test_a_forked_process_serves_nothing_until_it_converges(register_model):
    register_model("a", seed=1)
    model_reload(version="a", actor="ops")
    parent = holder.active()
    assert _in_a_forked_child(lambda: holder.active() is None and holder.sequence == 0)
    assert holder.active() is parent


def test_a_forked_process_does_not_wait_on_the_parents_predictions():
    with foreground.gate().foreground():  # a prediction in flight in the parent at fork time
        assert _in_a_forked_child(lambda: foreground.gate().running == 0 and foreground.gate().pacer()() == 0.0)
        assert foreground.gate().running == 1


@pytest.mark.django_db
def test_the_process_initialiser_loads_the_active_model(register_model):
    assert _initializers["modelops"] == holder.restart
    register_model("a", seed=1)
    model_reload(version="a", actor="ops")
    holder.reset()  # a new process: nothing loaded
    assert holder.active() is None
    holder.restart()
    assert holder.active().label == "a" and holder.sequence == 1


def test_the_holder_the_gate_and_the_security_pipeline_import_no_django():
    probe = ("import sys; import modelops.registry, modelops.foreground, modelops.security.pipeline, "
             "modelops.security.errors; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
