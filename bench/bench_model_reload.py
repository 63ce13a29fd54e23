"""Full reload time of a ~10 MB model, and predict latency with and without reloads running.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_model_reload.py [--reloads 6] [--seconds 6] [--pause 1]

Runs the real services against a throw-away SQLite database and model directory (both in a temporary
directory, migrated at start):
  * ``model_reload`` of two ~10 MB random forests (joblib), alternately, so every reload is a real swap:
    file read, sha256, hash check, scan, restricted load under the tripwire, validation, canary predict,
    database swap, audit rows. Prints min/median/max and the per-stage split of the last one;
  * ``classify_vector`` latency (p50/p99/max over --seconds): alone; while a *second process* (as another
    gunicorn worker would) reloads once every --pause seconds, then back to back, this process converging on
    each new version in its background thread; a control run where the second process does the same CPU work
    without activating anything (the machine has 2 shared cores: this isolates what convergence costs);
    and while a thread of this same process reloads back to back (the worst case: both compete for the GIL).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = os.environ.get("BENCH_MODEL_RELOAD_DIR") or tempfile.mkdtemp(prefix="bench-model-reload-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "x" * 40)
os.environ["CADML_VAR_DIR"] = TMP
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402


def forest_bytes(seed: int, target_mb: float = 10.0) -> bytes:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4000, 24))
    y = np.array(["bracket", "flange", "shaft"])[(X[:, 0] + rng.normal(scale=1.5, size=4000) > 0).astype(int)
                                                 + (X[:, 1] > 0.5)]
    probe = io.BytesIO()
    joblib.dump(RandomForestClassifier(n_estimators=4, random_state=seed).fit(X, y), probe)
    n = max(1, int(target_mb * 1e6 / (len(probe.getvalue()) / 4)))
    buf = io.BytesIO()
    joblib.dump(RandomForestClassifier(n_estimators=n, random_state=seed).fit(X, y), buf)
    return buf.getvalue()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"n={len(ordered):5d}  p50 {p(0.50):6.2f} ms  p99 {p(0.99):6.2f} ms  max {ordered[-1] * 1000:7.2f} ms"


def predict_loop(seconds: float, vectors: np.ndarray) -> list[float]:
    from modelops.selectors import classify_vector

    latencies = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        result = classify_vector(values=vectors[i % len(vectors)], feature_version="v4")
        latencies.append(time.perf_counter() - started)
        assert result is not None
        i += 1
    return latencies


def reloader_process(*, control: bool) -> None:
    """Child role: reload back to back until the parent writes the stop file. ``control``: do the same CPU
    work (the whole check pipeline on the same files) without activating anything, so the parent never has
    to converge: the difference to a real reload run is what convergence costs the predicting process."""
    from modelops.models import ModelVersion
    from modelops.services import _load_version, model_reload

    stop_file = Path(TMP) / "stop"
    pause = float(os.environ.get("BENCH_RELOAD_PAUSE", "0"))
    versions = {v.label: v for v in ModelVersion.objects.all()}
    model_reload(version="rf-a", actor="bench-child")  # warm: imports and first predict happen before timing
    (Path(TMP) / "ready").write_text("ready")
    count, i = 0, 1
    while not stop_file.exists():
        label = "rf-a" if i % 2 == 0 else "rf-b"
        if control:
            _load_version(versions[label])
        else:
            model_reload(version=label, actor="bench-child")
        count += 1
        i += 1
        time.sleep(pause)
    print(f"{count} {'checks without activation' if control else 'reloads'} in the other process")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reloads", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--pause", type=float, default=1.0, help="Seconds between reloads in the paced run.")
    parser.add_argument("--role", choices=("main", "reloader", "control"), default="main", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role in ("reloader", "control"):
        reloader_process(control=args.role == "control")
        return
    from django.conf import settings

    call_command("migrate", verbosity=0)
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 3600.0
    from modelops.models import ModelReloadAttempt
    from modelops.services import model_reload, model_version_upload

    sizes = []
    for label, seed in (("rf-a", 1), ("rf-b", 2)):
        raw = forest_bytes(seed)
        sizes.append(len(raw) / 1e6)
        model_version_upload(data=raw, label=label, feature_version="v4", actor="bench")
    print(f"models: {', '.join(f'{s:.1f} MB' for s in sizes)} (joblib, RandomForestClassifier, 24 features)")
    times = []
    for i in range(args.reloads):
        started = time.perf_counter()
        model_reload(version="rf-a" if i % 2 == 0 else "rf-b", actor="bench")
        times.append(time.perf_counter() - started)
    last = ModelReloadAttempt.objects.filter(action="reload", outcome="success").first()
    print(f"full reload x{len(times)}: min {min(times):.3f} s  median {statistics.median(times):.3f} s  "
          f"max {max(times):.3f} s")
    print(f"stages of the last reload (ms): {last.after['timings_ms']}")

    vectors = [v.tolist() for v in np.random.default_rng(0).normal(size=(64, 24))]
    predict_loop(0.5, vectors)  # warm-up
    print(f"predict alone {'':>50}: {percentiles(predict_loop(args.seconds, vectors))}")
    stop = threading.Event()
    reloads = []

    def reloader():
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            model_reload(version="rf-a" if i % 2 == 0 else "rf-b", actor="bench")
            reloads.append(time.perf_counter() - started)
            i += 1
        from django.db import connection

        connection.close()

    import subprocess

    from modelops.registry import holder

    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 0.2
    runs = ((args.pause, "reloader", f"reloads every ~{args.pause:g} s"), (0.0, "reloader", "reloads back to back"),
            (0.0, "control", "same CPU work, no reload"))
    for pause, role, what in runs:
        for name in ("stop", "ready"):
            (Path(TMP) / name).unlink(missing_ok=True)
        child = subprocess.Popen([sys.executable, __file__, "--role", role],
                                 env={**os.environ, "BENCH_MODEL_RELOAD_DIR": TMP, "BENCH_RELOAD_PAUSE": str(pause)},
                                 stdout=subprocess.PIPE, text=True)
        while not (Path(TMP) / "ready").exists():
            time.sleep(0.05)
        seen_before = holder.sequence
        try:
            other = predict_loop(args.seconds, vectors)
        finally:
            (Path(TMP) / "stop").write_text("stop")
            out, _ = child.communicate(timeout=120)
        print(f"predict, other process {what:>32}: {percentiles(other)}  ({out.strip()}; "
              f"this process converged {holder.sequence - seen_before} times)")
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 3600.0

    thread = threading.Thread(target=reloader)
    thread.start()
    try:
        during = predict_loop(args.seconds, vectors)
    finally:
        stop.set()
        thread.join()
    print(f"predict, this process reloads {'back to back':>26}: {percentiles(during)}  "
          f"({len(reloads)} reloads completed)")


if __name__ == "__main__":
    main()
