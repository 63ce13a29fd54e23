"""Inference first: the foreground gate, its yield points in scan/load/validation, and low-priority loads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from modelops.foreground import ForegroundGate
from modelops.security.loader import restricted_load
from modelops.security.reference_models import serialise
from modelops.security.scanner import ScanLimits, scan
from modelops.security.validation import validate_model


class CountingYield:
    def __init__(self, pause: float = 0.0):
        self.calls = 0
        self.pause = pause

    def __call__(self) -> float:
        self.calls += 1
        started = time.perf_counter()
        if self.pause:
            time.sleep(self.pause)
        return time.perf_counter() - started


# ----- the gate (no database) --------------------------------------------------------------------------
def test_yield_point_returns_at_once_when_no_prediction_runs():
    gate = ForegroundGate(max_wait=5.0)
    yield_point = gate.pacer()
    started = time.perf_counter()
    assert yield_point() == 0.0
    assert time.perf_counter() - started < 0.05


def test_load_waits_at_its_yield_point_until_the_prediction_ends():
    gate = ForegroundGate(max_wait=5.0)
    yield_point = gate.pacer()
    entered, waited = threading.Event(), []

    def predict():
        with gate.foreground():
            entered.set()
            time.sleep(0.3)

    thread = threading.Thread(target=predict)
    thread.start()
    entered.wait(5)
    assert gate.running == 1
    waited.append(yield_point())
    thread.join()
    assert 0.2 < waited[0] < 4.0  # released by the end of the prediction, not by the 5 s bound
    assert gate.running == 0


def test_a_saturated_process_still_grants_the_load_bounded_slices():
    gate = ForegroundGate(max_wait=0.05, grant=0.2)
    yield_point = gate.pacer()
    with gate.foreground():  # a prediction that never ends
        first = yield_point()
        assert 0.04 < first < 1.0  # waited max_wait, no longer
        started = time.perf_counter()
        assert yield_point() == 0.0  # inside the granted slice: no wait
        assert time.perf_counter() - started < 0.05
        time.sleep(0.25)
        assert yield_point() > 0.04  # slice used up: waits again


def test_nested_and_concurrent_predictions_are_counted():
    gate = ForegroundGate()
    with gate.foreground():
        with gate.foreground():
            assert gate.running == 2
        assert gate.running == 1
    assert gate.running == 0
    with pytest.raises(ValueError):
        with gate.foreground():
            raise ValueError("a failing prediction still leaves the foreground")
    assert gate.running == 0


# ----- yield points in the pipeline (no database) ------------------------------------------------------
def test_scan_load_and_validation_call_their_yield_points(allowlist, fitted_models):
    raw = serialise(fitted_models["random_forest"], container="joblib", protocol=4)
    scanned, loaded, validated = CountingYield(), CountingYield(), CountingYield()
    scan(raw * 1, mode="blacklist", allowlist=allowlist, yield_point=scanned)
    model, _ = restricted_load(raw, allowlist=allowlist, yield_point=loaded)
    validate_model(model, allowlist=allowlist, yield_point=validated)
    assert loaded.calls >= len(model.estimators_)  # at least one BUILD per tree
    assert validated.calls >= 1
    if len(raw) > 1 << 16:
        assert scanned.calls >= len(raw) // (1 << 16)


def test_time_spent_waiting_for_inference_is_not_scan_time(allowlist):
    import pickle

    raw = pickle.dumps(np.arange(300_000, dtype=np.int64).tolist(), protocol=4)  # several 64 KiB ticks
    assert len(raw) > 4 * (1 << 16)
    pausing = CountingYield(pause=0.2)
    report = scan(raw, mode="blacklist", allowlist=allowlist, limits=ScanLimits(max_seconds=0.5),
                  yield_point=pausing)
    assert pausing.calls >= 4 and pausing.calls * 0.2 > 0.5  # waited longer than the scan may take
    assert report.clean


# ----- wiring: a load in this process pauses for a prediction in flight ----------------------------------
@pytest.mark.django_db
def test_a_model_load_in_this_process_waits_for_the_prediction_in_flight(register_model, monkeypatch):
    from modelops import foreground
    from modelops.services.reload import load_version

    version = register_model("b", seed=2)
    monkeypatch.setattr(foreground.gate(), "max_wait", 30.0)  # no forced slices during this test
    done = threading.Event()
    outcome: list = []

    def load():  # what a reload or a convergence runs (no database access)
        try:
            outcome.append(load_version(version, canary=False))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            outcome.append(exc)
        finally:
            done.set()

    with foreground.gate().foreground():  # a prediction that takes 0.6 s
        thread = threading.Thread(target=load)
        thread.start()
        assert not done.wait(0.6), "the load ran to the end while a prediction was in flight"
    assert done.wait(30)
    thread.join()
    assert type(outcome[0]).__name__ == "CheckedModel", outcome
    assert outcome[0].info.n_features == 24
