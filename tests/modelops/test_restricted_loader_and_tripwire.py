"""Second and third lines: the restricted unpickler and the audit-hook tripwire (tested directly)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import threading

import joblib
import numpy as np
import pytest

from modelops.security import tripwire
from modelops.security.errors import LoadRefused
from modelops.security.loader import restricted_load
from modelops.security.reference_models import serialise

from . import pickle_asm as A


def test_loader_refuses_names_outside_the_allow_list_without_importing(allowlist):
    raw = A.proto(4) + A.stack_global("some_module_that_is_not_imported", "thing") + A.STOP
    with pytest.raises(LoadRefused) as excinfo:
        restricted_load(raw, allowlist=allowlist)
    assert excinfo.value.context["global"] == "some_module_that_is_not_imported:thing"
    import sys

    assert "some_module_that_is_not_imported" not in sys.modules


def test_loader_applies_the_protocol_2_mapping_like_the_scanner(allowlist):
    raw = A.proto(2) + A.global_("__builtin__", "bytes") + A.EMPTY_TUPLE + A.REDUCE + A.STOP
    assert restricted_load(raw, allowlist=allowlist)[0] == b""
    raw3 = A.proto(3) + A.global_("__builtin__", "bytes") + A.EMPTY_TUPLE + A.REDUCE + A.STOP
    with pytest.raises(LoadRefused):  # no mapping at protocol 3: __builtin__ is not a module we allow
        restricted_load(raw3, allowlist=allowlist)


@pytest.mark.parametrize("opcode_stream", [b"\x82\x01", b"Pfoo\n", A.NONE + b"Q", b"\x97"])
def test_loader_refuses_extension_persistent_and_buffer_opcodes(opcode_stream, allowlist):
    with pytest.raises(LoadRefused):
        restricted_load(A.proto(5) + opcode_stream + A.STOP, allowlist=allowlist)


def test_loader_reads_joblib_arrays_itself_and_never_calls_pickle_load(allowlist, fitted_models, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a second load path was used")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(joblib, "load", forbidden)
    buf = io.BytesIO()
    arrays = {"c": np.arange(12.0).reshape(3, 4), "f": np.asfortranarray(np.arange(6).reshape(2, 3)),
              "big_endian": np.arange(3, dtype=">i4"), "o": np.array([1, "x"], dtype=object)}
    joblib.dump(arrays, buf, protocol=4)
    loaded, _ = restricted_load(buf.getvalue(), allowlist=allowlist)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
    assert loaded["f"].flags.f_contiguous and loaded["big_endian"].dtype == np.dtype("=i4")
    model, _ = restricted_load(serialise(fitted_models["gradient_boosting"], container="joblib", protocol=5),
                               allowlist=allowlist)
    assert model.estimators_.dtype == object


def test_loader_refuses_trailing_data(allowlist):
    with pytest.raises(LoadRefused):
        restricted_load(pickle.dumps(1, protocol=4) + b"\x00", allowlist=allowlist)


def test_tripwire_refuses_process_spawning_file_writes_imports_and_network(tmp_path):
    marker = tmp_path / "tripwire-marker"
    attempts = [
        lambda: subprocess.run(["touch", str(marker)], check=False),
        lambda: os.system(f"touch {marker}"),
        lambda: open(marker, "w"),
        lambda: __import__("this_module_does_not_exist_either"),
        lambda: __import__("socket").create_connection(("127.0.0.1", 9)),
        lambda: exec("1"),
        lambda: compile("1", "<x>", "eval"),
    ]
    for attempt in attempts:
        with tripwire.armed() as events:
            with pytest.raises(BaseException):
                attempt()
        assert events, "the hook must record the refused event"
    assert not marker.exists()


def test_tripwire_is_armed_only_in_the_loading_thread(tmp_path):
    opened = threading.Event()
    armed = threading.Event()
    done = threading.Event()

    def other_thread():
        armed.wait(5)
        with open(tmp_path / "allowed.txt", "w") as fh:  # not armed here
            fh.write("ok")
        opened.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with tripwire.armed():
        assert tripwire.is_armed()
        armed.set()
        assert opened.wait(5)
        done.set()
    worker.join(5)
    assert not tripwire.is_armed()
    assert (tmp_path / "allowed.txt").read_text() == "ok"
    with open(tmp_path / "after.txt", "w") as fh:  # disarmed after the block
        fh.write("ok")


def test_relaxed_canary_mode_allows_lazy_reads_but_not_writes_or_processes(tmp_path):
    marker = tmp_path / "relaxed-marker"
    with tripwire.armed(relaxed=True) as events:
        os.listdir(tmp_path)
        with open(__file__, "rb") as fh:
            fh.read(1)
        with pytest.raises(tripwire.TripwireTripped):
            open(marker, "w")
        with pytest.raises(tripwire.TripwireTripped):
            subprocess.run(["touch", str(marker)], check=False)
    assert len(events) == 2 and not marker.exists()


def test_first_activation_in_a_fresh_process_passes_the_canary(tmp_path, fitted_models):
    """The first predict of a fresh process looks at the machine (joblib lists /sys); the canary allows it."""
    import sys

    path = tmp_path / "rf.joblib"
    path.write_bytes(serialise(fitted_models["random_forest"], container="joblib", protocol=4))
    code = ("import sys; from modelops.security.pipeline import check_model_bytes; "
            "from modelops.security.allowlist import default_allowlist; "
            "from modelops.security.intake import IntakeLimits; "
            f"m = check_model_bytes(open({str(path)!r}, 'rb').read(), mode='whitelist', "
            "allowlist=default_allowlist(), intake_limits=IntakeLimits()); print(m.info.estimator)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RandomForestClassifier" in result.stdout


def test_load_warnings_are_recorded_without_touching_the_filters(allowlist):
    import warnings

    import sklearn
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(np.random.default_rng(0).normal(size=(20, 3)),
                                                        np.arange(20) % 2)
    current = sklearn.__version__.encode()
    older = b"0" + current[1:]  # same length: the stream stays valid, BUILD sees another sklearn version
    raw = pickle.dumps(model, protocol=4)
    assert raw.count(current) == 1
    filters_before = list(warnings.filters)
    loaded, load_warnings = restricted_load(raw.replace(current, older), allowlist=allowlist)
    assert type(loaded) is DecisionTreeClassifier
    assert any(older.decode() in w for w in load_warnings), load_warnings  # recorded under the tripwire, not raised
    assert warnings.filters == filters_before


def test_recording_is_per_thread(recwarn):
    import warnings

    from modelops.security.loader import recorded_warnings

    inside, release, done = threading.Event(), threading.Event(), threading.Event()
    recorded: list[str] = []

    def loading_thread():
        with recorded_warnings() as messages:
            warnings.warn("from the load", UserWarning)
            inside.set()
            release.wait(10)
        recorded.extend(messages)
        done.set()

    thread = threading.Thread(target=loading_thread)
    thread.start()
    assert inside.wait(10)
    warnings.warn("from a request thread", UserWarning)  # while the other thread records
    release.set()
    thread.join(10)
    assert done.is_set() and recorded == ["from the load"]
    assert [str(w.message) for w in recwarn] == ["from a request thread"]
