"""Full reload time of a ~10 MB model, and predict latency with and without reloads running.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_model_reload.py [--reloads 6] [--rounds 12] [--block 1.5]

Runs the real services against a throw-away SQLite database and model directory (both in a temporary
directory, migrated at start).

1. ``model_reload`` of two ~10 MB random forests (joblib), alternately, so every reload is a real swap: file
   read, sha256, hash check, scan, restricted load under the tripwire, validation, canary predict, database
   swap, audit rows. Prints min/median/max and the per-stage split of the last one.

2. A full garbage collection in this process before and after ``freeze_startup_heap()``, which every worker
   runs after its initialisers (the bench's two processes run it too, as workers would).

3. ``classify_vector`` latency in one thread that predicts back to back (a saturated worker: harsher than a
   server, which has gaps between requests), under interleaved conditions. Each round runs every condition
   for ``--block`` seconds in a shuffled order, so that the host's own jitter falls on all conditions alike:
     quiet                      nothing reloads;
     other process, 1/s         a second process (another gunicorn worker) reloads once a second and this
                                process converges on each new version in its background thread;
     other process, b2b         the second process reloads back to back;
     this process, 1/s          a thread of this process reloads once a second (a threaded worker);
     ... without the gate       the same with ``modelops.foreground`` switched off (loads do not pause for
                                predictions), the baseline the gate is measured against.
   The convergence check runs every 0.2 s in every condition. Printed per condition: n, p50, p90, p99, max
   and p99 / quiet p99; the noise floor (quiet p99 of odd rounds against even rounds); and, for the
   predictions that overlapped a load in this process, their latency against the others of the same blocks.
   Latency minus the thread's CPU time is also printed: the time a prediction spent waiting (for the GIL or a
   core). The host's own jitter shows in CPU time, so this is the part reloads can add.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import random
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

from cadml_site.process_state import freeze_startup_heap  # noqa: E402

CONTROL = Path(TMP) / "control"   # parent -> child: off | paced | b2b | stop
IDLE = Path(TMP) / "idle"         # child -> parent: no reload is running
CHILD_RELOADS = Path(TMP) / "child-reloads"  # child -> parent: "start end" (CLOCK_MONOTONIC) of each reload


def never_wait() -> float:
    """The yield point of the runs without the gate."""
    return 0.0


def set_control(mode: str) -> None:
    """Replace CONTROL in one rename, so that the child never reads a half-written file."""
    staged = CONTROL.with_suffix(".new")
    staged.write_text(mode)
    staged.replace(CONTROL)


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


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    if not ordered:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {"n": len(ordered), "p50": quantile(ordered, 0.50) * 1000, "p90": quantile(ordered, 0.90) * 1000,
            "p99": quantile(ordered, 0.99) * 1000, "max": ordered[-1] * 1000}


def ratio_interval(rows: list, quiet_rows: list, *, rounds: int, seed: int, resamples: int = 2000) -> tuple:
    """90% bootstrap interval of p99(condition) / p99(quiet), resampling whole rounds (the same rounds for
    both, as they ran side by side): how far the host's own jitter alone could move the ratio."""
    by_round = [np.array([lat for r, _, lat, _ in rows if r == k]) for k in range(rounds)]
    quiet_by_round = [np.array([lat for r, _, lat, _ in quiet_rows if r == k]) for k in range(rounds)]
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(resamples):
        pick = rng.integers(0, rounds, size=rounds)
        ratios.append(np.percentile(np.concatenate([by_round[k] for k in pick]), 99)
                      / np.percentile(np.concatenate([quiet_by_round[k] for k in pick]), 99))
    return float(np.percentile(ratios, 5)), float(np.percentile(ratios, 95))


def predict_block(seconds: float, vectors: list) -> list[tuple[float, float, float]]:
    """(start, latency, CPU time of this thread) of each prediction, back to back for ``seconds``."""
    from modelops.selectors import classify_vector

    samples = []
    deadline = time.monotonic() + seconds
    i = 0
    while True:
        started, cpu = time.monotonic(), time.thread_time()
        if started >= deadline:
            return samples
        result = classify_vector(values=vectors[i % len(vectors)], feature_version="v4")
        samples.append((started, time.monotonic() - started, time.thread_time() - cpu))
        assert result is not None
        i += 1


def reloader_process(pause: float) -> None:
    """Child role: reload as CONTROL says (paced: one every ``pause`` s; b2b: back to back) until 'stop'."""
    from modelops.services import model_reload

    model_reload(version="rf-a", actor="bench-child")  # warm: imports and first predict happen before timing
    freeze_startup_heap()  # as every worker does after its initialisers
    i, count = 1, 0
    while True:
        mode = CONTROL.read_text().strip() if CONTROL.exists() else "off"
        if mode == "stop":
            break
        if mode not in ("paced", "b2b"):
            IDLE.write_text("idle")
            time.sleep(0.01)
            continue
        IDLE.unlink(missing_ok=True)
        started = time.monotonic()
        model_reload(version="rf-a" if i % 2 == 0 else "rf-b", actor="bench-child")
        with CHILD_RELOADS.open("a") as log:
            log.write(f"{started} {time.monotonic()}\n")
        count += 1
        i += 1
        if mode == "paced":
            time.sleep(max(0.0, pause - (time.monotonic() - started)))
    print(f"{count} reloads in the other process")


class LoadLog:
    """Intervals during which this process ran a model load (convergence or its own reload)."""

    def __init__(self) -> None:
        import modelops.services.reload as services

        self.intervals: list[tuple[float, float]] = []
        self.durations: dict[str, list[float]] = {}
        self.condition = ""
        inner = services.check_model_bytes

        def timed(*args, **kwargs):
            started = time.monotonic()
            try:
                return inner(*args, **kwargs)
            finally:
                ended = time.monotonic()
                self.intervals.append((started, ended))
                self.durations.setdefault(self.condition, []).append(ended - started)

        services.check_model_bytes = timed

    def overlaps(self, start: float, latency: float) -> bool:
        return overlaps(self.intervals, start, latency)


def overlaps(intervals: list[tuple[float, float]], start: float, latency: float) -> bool:
    end = start + latency
    return any(a < end and start < b for a, b in intervals)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reloads", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--block", type=float, default=1.5, help="Seconds per condition per round.")
    parser.add_argument("--pause", type=float, default=1.0, help="Seconds between reloads in the paced conditions.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--role", choices=("main", "reloader"), default="main", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "reloader":
        reloader_process(args.pause)
        return
    from django.conf import settings

    call_command("migrate", verbosity=0)
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 3600.0
    from modelops.foreground import gate as process_gate
    from modelops.models import ModelReloadAttempt
    from modelops.registry import holder
    from modelops.services import (database_load_sequence, model_refresh_if_stale, model_reload,
                                   model_version_upload)

    gate = process_gate()  # this process's foreground gate

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
    print("stages of the last reload (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in last.after["timings_ms"].items()))

    started = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - started
    frozen = freeze_startup_heap()  # as every worker does after its initialisers (cadml_site.process_state)
    started = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - started
    print(f"full garbage collection in this process: {before * 1000:.1f} ms, then {after * 1000:.1f} ms after "
          f"freeze_startup_heap() ({frozen} objects frozen)")
    full_collections: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                on_gc.started = time.perf_counter()
            else:
                full_collections.append(time.perf_counter() - on_gc.started)

    gc.callbacks.append(on_gc)

    import subprocess

    set_control("off")
    child = subprocess.Popen([sys.executable, __file__, "--role", "reloader", "--pause", str(args.pause)],
                             env={**os.environ, "BENCH_MODEL_RELOAD_DIR": TMP}, stdout=subprocess.PIPE, text=True)
    while not IDLE.exists():
        time.sleep(0.05)
    vectors = [v.tolist() for v in np.random.default_rng(0).normal(size=(64, 24))]
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 0.2
    predict_block(1.0, vectors)  # warm-up
    log = LoadLog()
    own_pacer = gate.pacer

    def converged() -> bool:
        return holder.sequence == database_load_sequence() and not holder.loading()

    def settle() -> None:
        set_control("off")
        while not IDLE.exists():
            time.sleep(0.01)
        while not converged():
            model_refresh_if_stale()  # what each request does
            time.sleep(0.01)

    def this_process_reloads(stop: threading.Event, pause: float) -> None:
        from django.db import connection

        i = 0
        while not stop.is_set():
            started = time.monotonic()
            model_reload(version="rf-a" if i % 2 == 0 else "rf-b", actor="bench")
            i += 1
            stop.wait(max(0.0, pause - (time.monotonic() - started)))
        connection.close()

    conditions = {
        "quiet": ("off", None, True),
        "other process, 1/s": ("paced", None, True),
        "other process, b2b": ("b2b", None, True),
        "this process, 1/s": ("off", args.pause, True),
        "other process, 1/s, no gate": ("paced", None, False),
        "this process, 1/s, no gate": ("off", args.pause, False),
    }
    samples: dict[str, list[tuple[int, float, float, float]]] = {name: [] for name in conditions}
    rng = random.Random(args.seed)
    for round_no in range(args.rounds):
        order = list(conditions)
        rng.shuffle(order)
        for name in order:
            control, own_pause, gated = conditions[name]
            settle()
            log.condition = name
            gate.pacer = own_pacer if gated else (lambda: never_wait)  # loads never pause
            stop = threading.Event()
            thread = None
            set_control(control)
            if own_pause is not None:
                thread = threading.Thread(target=this_process_reloads, args=(stop, own_pause))
                thread.start()
            try:
                block = predict_block(args.block, vectors)
            finally:
                stop.set()
                if thread is not None:
                    thread.join()
                set_control("off")
            samples[name].extend((round_no, *sample) for sample in block)
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    settle()
    gate.pacer = own_pacer
    set_control("stop")
    out, _ = child.communicate(timeout=120)

    gc.callbacks.remove(on_gc)
    quiet = summary([lat for _, _, lat, _ in samples["quiet"]])
    print(f"\nclassify_vector latency, {args.rounds} rounds x {args.block:g} s per condition, interleaved "
          f"(ms; {len(log.intervals)} model loads in this process; {out.strip()})")
    print(f"{'condition':32} {'n':>6} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'p99/quiet':>10} "
          f"{'90% interval':>13}")
    intervals = {}
    for name, rows in samples.items():
        s = summary([lat for _, _, lat, _ in rows])
        low, high = intervals[name] = ratio_interval(samples[name], samples["quiet"], rounds=args.rounds,
                                                     seed=args.seed)
        print(f"{name:32} {s['n']:6d} {s['p50']:7.2f} {s['p90']:7.2f} {s['p99']:7.2f} {s['max']:7.2f} "
              f"{s['p99'] / quiet['p99']:10.2f} {low:6.2f}-{high:<6.2f}")
    odd = summary([lat for r, _, lat, _ in samples["quiet"] if r % 2])
    even = summary([lat for r, _, lat, _ in samples["quiet"] if not r % 2])
    print(f"noise floor: quiet p99 of odd rounds {odd['p99']:.2f} ms, of even rounds {even['p99']:.2f} ms "
          f"(ratio {max(odd['p99'], even['p99']) / min(odd['p99'], even['p99']):.2f})")
    print("\ntime each prediction spent not running (latency minus the thread's CPU time: waiting for the GIL or "
          "for a core; the\nhost's own slowness shows in CPU time instead), ms:")
    for name, rows in samples.items():
        s = summary([lat - cpu for _, _, lat, cpu in rows])
        c = summary([cpu for _, _, _, cpu in rows])
        print(f"{name:32} waiting p50 {s['p50']:6.3f} p90 {s['p90']:6.3f} p99 {s['p99']:6.3f}   "
              f"CPU p50 {c['p50']:6.2f} p99 {c['p99']:6.2f}")
    quiet_wait = summary([lat - cpu for _, _, lat, cpu in samples["quiet"]])["p99"]
    print("\nverdict: p99 unchanged when the 90% interval of p99/quiet holds 1.0 (the host's jitter alone could give "
          "the ratio)")
    for name, (low, high) in intervals.items():
        if name != "quiet":
            wait = summary([lat - cpu for _, _, lat, cpu in samples[name]])["p99"]
            print(f"{name:32} {'unchanged' if low <= 1.0 <= high else 'CHANGED':10} time not running p99 "
                  f"{wait:6.2f} ms (quiet {quiet_wait:.2f} ms)")
    print(f"\nfull garbage collections in this process during the measurement: {len(full_collections)}"
          + (f", longest {max(full_collections) * 1000:.2f} ms" if full_collections else ""))
    print("\nmodel loads in this process (convergence or its own reload), seconds from start to end:")
    for name, durations in log.durations.items():
        if name in samples:
            ordered = sorted(durations)
            print(f"{name:32} n={len(ordered):3d} median {statistics.median(ordered):6.3f} max {ordered[-1]:6.3f}")
    child_reloads = [tuple(map(float, line.split())) for line in CHILD_RELOADS.read_text().splitlines()] \
        if CHILD_RELOADS.exists() else []
    print("\ntime not running (ms) of the predictions that overlapped a model load in this process, a reload in the "
          "other process, or neither:")
    for name, rows in samples.items():
        if name == "quiet":
            continue
        groups = {"load here": [], "reload there": [], "neither": []}
        for _, start, lat, cpu in rows:
            here, there = log.overlaps(start, lat), overlaps(child_reloads, start, lat)
            if here:
                groups["load here"].append(lat - cpu)
            if there:
                groups["reload there"].append(lat - cpu)
            if not here and not there:
                groups["neither"].append(lat - cpu)
        print(f"{name:32} " + "   ".join(f"{group} n={len(w):4d} p99 {summary(w)['p99']:6.2f}"
                                           for group, w in groups.items()))


if __name__ == "__main__":
    main()
