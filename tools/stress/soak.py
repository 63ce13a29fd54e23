"""Soak: mixed traffic at a fixed rate for a fixed time against a running service, with process health sampled.

Traffic (each request scheduled at ``start + i / rate``, sent by a small pool of threads): similarity searches,
analyses (STL uploads), model reloads alternating between two uploaded versions, cache apply + rollback pairs and, on
its own schedule, a degradation drill (degrade the index for a few seconds, searches must stay answered). Reported:
every error, latency percentiles, and for each gunicorn worker (children of the master pid given) the resident
memory sampled every few seconds with its least-squares slope after warm-up, open file descriptors at the start
and end of the steady phase, and the number of processes in the service's tree.

Loopback only (``StressClient``); bounded in time; stops by itself. Used by ``bench/soak.py`` and, in a 2-minute
version, by tests/integration/test_soak_short.py.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from tools.stress.client import StressClient, UnexpectedResponse
from tools.stress.payloads import binary_stl_box
from tools.stress.stats import LatencySummary

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
MIX = (("similarity", 60), ("analyze", 25), ("cache_cycle", 8), ("reload", 7))


# ---- process health (Linux /proc) -----------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_KIB
    except OSError:
        return None


def fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, in value units per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / var


# ---- report -----------------------------------------------------------------------------------------------------
@dataclass
class SoakReport:
    duration_s: float
    warmup_s: float
    rate: float
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    latency: dict[str, LatencySummary] = field(default_factory=dict)
    overall: LatencySummary | None = None
    rss_slope_kib_per_min: dict[int, float] = field(default_factory=dict)
    rss_kib_start: dict[int, int] = field(default_factory=dict)
    rss_kib_end: dict[int, int] = field(default_factory=dict)
    fds_start: dict[int, int] = field(default_factory=dict)
    fds_end: dict[int, int] = field(default_factory=dict)
    processes_start: int = 0
    processes_end: int = 0
    drills: int = 0
    late_starts: int = 0  # requests sent more than 1 s after their slot (the pool could not keep the rate)

    @property
    def p99(self) -> float:
        return self.overall.p99 if self.overall else 0.0

    def render(self) -> str:
        lines = [f"soak: {self.duration_s:.0f} s at {self.rate:g} req/s (warm-up {self.warmup_s:.0f} s): "
                 f"{self.requests} requests, {len(self.errors)} errors, {self.drills} degradation drills, "
                 f"{self.late_starts} late starts"]
        if self.overall:
            lines.append(self.overall.render("all"))
        for name, summary in sorted(self.latency.items()):
            lines.append(summary.render(name))
        for pid in sorted(self.rss_slope_kib_per_min):
            lines.append(f"worker {pid}: RSS {self.rss_kib_start.get(pid, 0) / 1024:.1f} -> "
                         f"{self.rss_kib_end.get(pid, 0) / 1024:.1f} MiB after warm-up, slope "
                         f"{self.rss_slope_kib_per_min[pid]:+.1f} KiB/min; fds {self.fds_start.get(pid)} -> "
                         f"{self.fds_end.get(pid)}")
        lines.append(f"processes in the service tree: {self.processes_start} -> {self.processes_end}")
        for error in self.errors[:20]:
            lines.append(f"error: {error}")
        return "\n".join(lines)


# ---- traffic ----------------------------------------------------------------------------------------------------
def soak(client: StressClient, *, master_pid: int, duration: float, warmup: float, rate: float,
         model_versions: tuple[str, str], feature_version: str = "v4", dimension: int = 24, threads: int = 4,
         drill_every: float = 60.0, drill_seconds: int = 5, sample_every: float = 2.0,
         seed: int = 16) -> SoakReport:
    if duration <= warmup or rate <= 0 or threads < 1:
        raise ValueError("need duration > warmup, rate > 0 and at least one thread")
    report = SoakReport(duration_s=duration, warmup_s=warmup, rate=rate)
    errors_lock = threading.Lock()
    latencies: dict[str, list[float]] = defaultdict(list)
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    start = time.monotonic()
    end = start + duration
    steady_from = start + warmup
    reload_turn = [0]
    cache_lock = threading.Lock()  # one apply + rollback at a time, as one operator would (a second apply while a
    # rollback window is open is refused 409 rollback_window_active, by design)

    def record_error(message: str) -> None:
        with errors_lock:
            report.errors.append(message)

    def timed(name: str, method: str, path: str, expect: tuple[int, ...], **kwargs):
        began = time.perf_counter()
        response = client.call(name, method, path, expect=expect, **kwargs)
        if time.monotonic() >= steady_from:
            with errors_lock:
                latencies[name].append(time.perf_counter() - began)
        return response

    def one(op: str, rng: random.Random, i: int) -> None:
        if op == "similarity":
            timed("similarity", "POST", "/api/v1/vectors/similarity/", (200,), json={
                "feature_version": feature_version, "k": 5,
                "vector": [rng.uniform(0.0, 10.0) for _ in range(dimension)]})
        elif op == "analyze":
            box = binary_stl_box(5.0 + rng.random() * 20, 5.0 + rng.random() * 20, 5.0 + rng.random() * 20,
                                 name=f"soak {i}")
            timed("analyze", "POST", "/api/v1/analyze/", (201,), files={"file": (f"soak-{i}.stl", box)},
                  data={"feature_version": feature_version, "classify": "true"})
        elif op == "reload":
            with counter_lock:
                reload_turn[0] += 1
                label = model_versions[reload_turn[0] % 2]
            timed("reload", "POST", "/api/v1/model/reload/", (200,), ops=True,
                  json={"version": label, "reason": "soak"})
        elif op == "cache_cycle":
            capacity = 1000 + rng.randrange(1000)
            with cache_lock:
                timed("cache_apply", "POST", "/api/v1/cache/apply/", (200,), ops=True,
                      json={"capacity": capacity, "reason": "soak"})
                timed("cache_rollback", "POST", "/api/v1/cache/rollback/", (200,), ops=True, json={"reason": "soak"})

    ops, weights = zip(*MIX)

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while True:
            with counter_lock:
                i = next(counter)
            slot = start + i / rate
            if slot >= end:
                return
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                with errors_lock:
                    report.late_starts += 1
            op = rng.choices(ops, weights)[0]
            try:
                one(op, rng, i)
            except UnexpectedResponse as exc:
                record_error(str(exc)[:300])
            with errors_lock:
                report.requests += 1

    def drills() -> None:
        rng = random.Random(seed)
        next_drill = start + min(drill_every, max(warmup, 1.0))
        while next_drill + drill_seconds + 2 < end:
            time.sleep(max(0.0, next_drill - time.monotonic()))
            try:
                answer = client.json("degrade", "POST", "/api/v1/vectors/index/degrade/", ops=True, json={
                    "feature_version": feature_version, "reason": "soak drill", "duration_seconds": drill_seconds})
                if not answer.get("degraded"):
                    record_error(f"degrade answered {answer}")
                search = client.json("similarity_degraded", "POST", "/api/v1/vectors/similarity/", json={
                    "feature_version": feature_version, "k": 5,
                    "vector": [rng.uniform(0.0, 10.0) for _ in range(dimension)]})
                if not search.get("degraded"):
                    record_error(f"a search during the drill answered degraded={search.get('degraded')}")
                client.json("recover", "POST", "/api/v1/vectors/index/recover/", ops=True, json={
                    "feature_version": feature_version, "reason": "soak drill over"})
                report.drills += 1
            except UnexpectedResponse as exc:
                record_error(str(exc)[:300])
            next_drill += drill_every

    rss: dict[int, list[tuple[float, float]]] = defaultdict(list)

    def sampler() -> None:
        taken_start = False
        while time.monotonic() < end:
            now = time.monotonic()
            workers = _children(master_pid)
            if now >= steady_from:
                if not taken_start:
                    report.processes_start = len(process_tree(master_pid))
                    report.fds_start = {pid: fd_count(pid) for pid in workers}
                    taken_start = True
                for pid in workers:
                    value = rss_kib(pid)
                    if value is not None:
                        rss[pid].append((now - start, float(value)))
            time.sleep(sample_every)

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    extras = [threading.Thread(target=drills, daemon=True), threading.Thread(target=sampler, daemon=True)]
    for thread in pool + extras:
        thread.start()
    for thread in pool + extras:
        thread.join(duration + 120)
    workers = _children(master_pid)
    report.processes_end = len(process_tree(master_pid))
    report.fds_end = {pid: fd_count(pid) for pid in workers}
    for pid, samples in rss.items():
        report.rss_slope_kib_per_min[pid] = slope_per_minute(samples)
        report.rss_kib_start[pid] = int(samples[0][1])
        report.rss_kib_end[pid] = int(samples[-1][1])
    all_latencies = [s for values in latencies.values() for s in values]
    report.latency = {name: LatencySummary.of(values) for name, values in latencies.items() if values}
    report.overall = LatencySummary.of(all_latencies) if all_latencies else None
    return report


# ---- set-up -----------------------------------------------------------------------------------------------------
def seed_service(client: StressClient, *, feature_version: str = "v4", dimension: int = 24, vectors: int = 500,
                 labels: tuple[str, str] = ("soak-a", "soak-b"), seed: int = 16) -> tuple[str, str]:
    """Registers ``vectors`` random vectors, uploads two small classifiers and activates the first."""
    import io

    import joblib
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    bulk = [{"key": f"soak-{i}", "values": rng.uniform(0.0, 10.0, size=dimension).round(4).tolist()}
            for i in range(vectors)]
    client.call("seed_vectors", "POST", "/api/v1/vectors/", expect=(201,),
                json={"feature_version": feature_version, "vectors": bulk})
    values = rng.uniform(0.0, 10.0, size=(200, dimension))
    classes = np.array(["plate", "bracket", "shaft"])[rng.integers(0, 3, size=200)]
    for depth, label in zip((3, 5), labels):
        buffer = io.BytesIO()
        joblib.dump(DecisionTreeClassifier(max_depth=depth, random_state=depth).fit(values, classes), buffer)
        client.call("seed_model", "POST", "/api/v1/model/versions/", ops=True, expect=(201,),
                    files={"file": (f"{label}.joblib", buffer.getvalue())},
                    data={"label": label, "feature_version": feature_version})
    client.call("seed_reload", "POST", "/api/v1/model/reload/", ops=True, expect=(200,),
                json={"version": labels[0], "reason": "soak set-up"})
    return labels
