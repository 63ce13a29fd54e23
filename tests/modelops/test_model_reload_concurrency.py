"""Concurrent reload and predict (no errors, no torn reads) and per-process convergence through the DB."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from modelops.health import active_load_sequence_source, model_health_section
from modelops.models import ModelRegistryState
from modelops.registry import holder
from modelops.selectors import classify_vector
from modelops.services import model_process_sync, model_reload


def _predict_all(vectors):
    return [classify_vector(values=v.tolist(), feature_version="v4") for v in vectors]


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:`sklearn.utils.parallel.delayed` should be used:UserWarning")
def test_concurrent_reload_and_predict(register_model):
    register_model("a", seed=1)
    register_model("b", seed=2, kind="extra_trees")
    vectors = np.random.default_rng(3).normal(size=(16, 24))
    expected = {}
    for label in ("a", "b"):
        model_reload(version=label, actor="ops")
        expected[label] = _predict_all(vectors)
    assert expected["a"] != expected["b"]
    holder.process_local.converge_if_due(force=True)  # checked now: workers only read the holder (no database
    # access in threads)
    stop = threading.Event()
    errors: list[str] = []
    seen: set[str] = set()

    def worker():
        while not stop.is_set():
            for i, v in enumerate(vectors):
                try:
                    result = classify_vector(values=v.tolist(), feature_version="v4")
                except Exception as exc:  # noqa: BLE001 - the test collects every failure
                    errors.append(repr(exc))
                    return
                seen.add(result["model_version"])
                if result != expected[result["model_version"]][i]:
                    errors.append(f"torn read: {result} vs {expected[result['model_version']][i]}")

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(6):
            model_reload(version="a" if n % 2 == 0 else "b", actor="ops")
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, errors[:3]
    assert seen == {"a", "b"}
    assert ModelRegistryState.objects.get().load_sequence == 8


@pytest.mark.django_db
def test_process_converges_and_keeps_its_model_when_the_active_cannot_load(register_model, model_dir):
    register_model("a", seed=1)
    b = register_model("b", seed=2)
    model_reload(version="a", actor="ops")
    a_loaded = holder.active()
    holder.install(None, sequence=0)  # a freshly forked process
    model_process_sync()
    assert holder.active().label == "a" and holder.sequence == 1
    model_reload(version="b", actor="ops")  # "another process" activates b ...
    holder.install(a_loaded, sequence=1)    # ... while this one still holds a
    (model_dir / b.file_name).rename(model_dir / "moved-away")
    model_process_sync()
    assert holder.active().label == "a"
    section = model_health_section()
    assert section["status"] == "degraded" and section["active_version"] == "b"
    assert section["process_version"] == "a" and "cannot load" in section["detail"]
    (model_dir / "moved-away").rename(model_dir / b.file_name)
    model_process_sync()
    assert holder.active().label == "b" and holder.error is None
    assert model_health_section()["status"] == "ok"
    assert active_load_sequence_source() == [({}, 2.0)]


@pytest.mark.django_db(transaction=True)
def test_request_path_never_waits_and_converges_in_the_background(register_model, settings):
    register_model("a", seed=1)
    model_reload(version="a", actor="ops")
    holder.reset()  # a stale process: nothing loaded, nothing checked yet
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 0.0
    first = classify_vector(values=[0.0] * 24, feature_version="v4")
    assert first is None  # answered at once with what the process had
    deadline = time.monotonic() + 20
    while holder.active() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder.active() is not None and holder.active().label == "a"
    assert classify_vector(values=[0.0] * 24, feature_version="v4")["model_version"] == "a"
