"""The three stress scenarios of issue 7, run over HTTP against a live server.

Each scenario returns a ``ScenarioResult``: the report lines to print and the failures found. A scenario never
passes while requests fail: any unexpected status is a failure (recorded by the client), and so is any check of
the server's behaviour (load sequence, backend, events versus metrics) that does not hold.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tools.stress.client import StressClient, UnexpectedResponse
from tools.stress.payloads import box_variants

DEGRADED_EVENTS = ("degraded", "restored", "recovery_failed", "suppressed", "manual_override", "drill")


@dataclass
class ScenarioResult:
    name: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def finish(self, client: StressClient) -> ScenarioResult:
        for operation, summary in client.log.summaries().items():
            self.lines.append(summary.render(operation))
            self.figures[f"{operation}_p50_ms"] = summary.p50 * 1000
            self.figures[f"{operation}_p95_ms"] = summary.p95 * 1000
            self.figures[f"{operation}_p99_ms"] = summary.p99 * 1000
        for record in client.log.failures()[:20]:
            self.fail(f"{record.operation}: HTTP {record.status}: {record.error}")
        extra = len(client.log.failures()) - 20
        if extra > 0:
            self.fail(f"... and {extra} more failed requests")
        return self


@dataclass(frozen=True)
class Bounds:
    """How long a scenario runs: whichever of ``duration`` seconds or ``iterations`` comes first."""

    duration: float
    iterations: int

    def __post_init__(self):
        if not (0 < self.duration <= 3600):
            raise ValueError("--duration must be between 0 and 3600 seconds")
        if not (0 < self.iterations <= 1_000_000):
            raise ValueError("--iterations must be between 1 and 1,000,000")


def feature_dimension(client: StressClient, feature_version: str) -> int:
    payload = client.json("feature_versions", "GET", "/api/v1/features/versions/")
    for item in payload if isinstance(payload, list) else payload.get("versions", []):
        if item.get("version") == feature_version:
            return int(item["dimension"])
    raise UnexpectedResponse("feature_versions", 200, f"the server does not know feature version {feature_version}")


def random_vector(rng: random.Random, dimension: int) -> list[float]:
    return [rng.uniform(0.0, 10.0) for _ in range(dimension)]


def _run_threads(workers: dict[str, tuple[int, Callable[[int, random.Random], None]]], bounds: Bounds,
                 stop: threading.Event, errors: list[str]) -> None:
    """Runs ``count`` threads per role, each calling ``step(i, rng)`` until the bounds are reached."""
    deadline = time.monotonic() + bounds.duration

    def loop(role: str, step, seed: int) -> None:
        rng = random.Random(seed)
        for i in range(bounds.iterations):
            if stop.is_set() or time.monotonic() >= deadline:
                return
            try:
                step(i, rng)
            except UnexpectedResponse:
                continue  # already recorded by the client as a failed request; keep stressing
            except Exception as exc:  # a scenario bug or a malformed answer: report it, never hide it
                errors.append(f"{role}: {type(exc).__name__}: {exc}")
                stop.set()

    threads = [threading.Thread(target=loop, args=(role, step, n * 1000 + j), name=f"{role}-{j}", daemon=True)
               for n, (role, (count, step)) in enumerate(workers.items()) for j in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(bounds.duration + 120)
        if thread.is_alive():
            errors.append(f"{thread.name} did not finish")
            stop.set()


# ---- stress_degradation_flapping ----------------------------------------------------------------------------------
def _index_row(client: StressClient, feature_version: str) -> dict:
    status = client.json("index_status", "GET", f"/api/v1/vectors/index/?feature_version={feature_version}")
    rows = [row for row in status["versions"] if row["feature_version"] == feature_version]
    return rows[0] if rows else {}


def _event_counts(client: StressClient) -> dict[str, float]:
    snapshot = client.metrics()
    return {event: snapshot.value("similarity_degraded_total", {"event": event}) or 0.0 for event in DEGRADED_EVENTS}


def degradation_flapping(client: StressClient, *, feature_version: str, cycles: int, drill_seconds: int,
                         seed: int = 7) -> ScenarioResult:
    """Degrade (drill) and recover ``cycles`` times; flap suppression must engage; events and metrics must agree."""
    if not 1 <= cycles <= 5:
        raise ValueError("--cycles must be between 1 and 5 (the index status shows the last 20 events)")
    result = ScenarioResult("stress_degradation_flapping")
    rng = random.Random(seed)
    dimension = feature_dimension(client, feature_version)
    started = datetime.now(timezone.utc)
    metrics_before = _event_counts(client)
    recoveries_before = client.metrics().value("faiss_recovery_attempts_total", {"result": "success"}) or 0.0
    suppression_seen_at: int | None = None
    suppression_gauge: float | None = None
    suppression_left = 0.0

    def check_search(cycle: int, name: str, expected: tuple[str, bool], when: str) -> None:
        search = client.json(name, "POST", "/api/v1/vectors/similarity/", json={
            "feature_version": feature_version, "vector": random_vector(rng, dimension), "k": 5})
        if (search["backend"], search["degraded"]) != expected:
            result.fail(f"cycle {cycle}: a search {when} answered backend={search['backend']} "
                        f"degraded={search['degraded']}")

    for cycle in range(1, cycles + 1):
        degraded = client.json("degrade", "POST", "/api/v1/vectors/index/degrade/", ops=True, json={
            "feature_version": feature_version, "reason": f"stress_degradation_flapping cycle {cycle}",
            "duration_seconds": drill_seconds})
        if not degraded.get("degraded"):
            result.fail(f"cycle {cycle}: degrade answered degraded={degraded.get('degraded')}")
        check_search(cycle, "similarity_degraded", ("memory", True), "during the drill")
        during = client.metrics()
        duration = during.value("faiss_degraded_duration_seconds")
        if duration is None or duration <= 0:
            result.fail(f"cycle {cycle}: faiss_degraded_duration_seconds is {duration} during the drill")
        # Suppression pauses automatic recovery while the index is degraded (a successful recovery ends it).
        row = _index_row(client, feature_version)
        if suppression_seen_at is None and row.get("suppression_left_seconds", 0) > 0:
            suppression_seen_at = cycle
            suppression_gauge = during.value("faiss_flap_suppression_active")
            suppression_left = row["suppression_left_seconds"]
        recovered = client.json("recover", "POST", "/api/v1/vectors/index/recover/", ops=True, json={
            "feature_version": feature_version, "reason": f"stress_degradation_flapping cycle {cycle}"})
        if recovered.get("result") != "success":
            result.fail(f"cycle {cycle}: recover answered {recovered}")
        check_search(cycle, "similarity_restored", ("faiss", False), "after recovery")

    after_row = _index_row(client, feature_version)
    snapshot = client.metrics()
    metric_deltas = {event: (snapshot.value("similarity_degraded_total", {"event": event}) or 0.0)
                     - metrics_before[event] for event in DEGRADED_EVENTS}
    # The status lists the last 20 events, newest first: count those recorded since the scenario started.
    new_events = Counter(e["event"] for e in after_row.get("events", [])
                         if datetime.fromisoformat(e["at"]) >= started)
    recoveries = (snapshot.value("faiss_recovery_attempts_total", {"result": "success"}) or 0.0) - recoveries_before

    result.lines.append(f"cycles: {cycles} drill/recover on {feature_version} (dimension {dimension})")
    result.lines.append("events (status) : " + ", ".join(f"{k}={v}" for k, v in sorted(new_events.items())))
    result.lines.append("metric deltas   : " + ", ".join(f"{k}={v:.0f}" for k, v in sorted(metric_deltas.items())
                                                         if v))
    engaged = f"engaged at cycle {suppression_seen_at}" if suppression_seen_at else "never engaged"
    result.lines.append(f"flap suppression: {engaged}; {suppression_left:.0f} s of suppression left then, "
                        f"faiss_flap_suppression_active={suppression_gauge}")
    result.figures.update({"cycles": cycles, "suppression_cycle": suppression_seen_at or 0,
                           "recoveries": recoveries})

    if metric_deltas["drill"] != cycles:
        result.fail(f"similarity_degraded_total{{event=\"drill\"}} rose by {metric_deltas['drill']:.0f}, "
                    f"expected {cycles}")
    if recoveries < cycles:
        result.fail(f"faiss_recovery_attempts_total{{result=\"success\"}} rose by {recoveries:.0f}, expected at least "
                    f"{cycles}")
    if sum(metric_deltas.values()) >= 20:
        result.fail("more than 20 events: the index status cannot show them all; use fewer --cycles")
    for event, delta in metric_deltas.items():
        if new_events.get(event, 0) != delta:
            result.fail(f"event {event}: {new_events.get(event, 0)} new rows in the index status but the metric "
                        f"rose by {delta:.0f}")
    if suppression_seen_at is None:
        result.fail(f"flap suppression never engaged after {cycles} degradations")
    elif suppression_gauge != 1.0:
        result.fail(f"faiss_flap_suppression_active was {suppression_gauge} while suppression was engaged")
    if not metric_deltas["suppressed"]:
        result.fail("no 'suppressed' event was counted")
    if after_row.get("degraded"):
        result.fail("the index is still degraded after the last recovery")
    return result.finish(client)



# ---- stress_concurrency_reload ------------------------------------------------------------------------------------
def _model_status(client: StressClient) -> dict:
    return client.json("model_status", "GET", "/api/v1/model/")


def _await_active_model_everywhere(client: StressClient, *, feature_version: str, dimension: int,
                                   timeout: float = 30.0, quiet: float = 3.0, successes_needed: int = 10) -> int:
    """Sends predictions on new connections until none has lacked a model for ``quiet`` seconds.

    A worker that has not yet loaded a model activated through another worker answers 503 ``no_active_model``
    without waiting (inference never waits on a load); those answers are the convergence being waited for here,
    not failures. A loading worker is slow to accept connections, so a streak of successes alone could come from
    the other worker only: the wait also needs ``quiet`` seconds without such an answer. Returns their number;
    raises if the workers have not converged within ``timeout`` seconds.
    """
    rng = random.Random(0)
    started = time.monotonic()
    last_unconverged = started
    successes = unconverged = 0
    while successes < successes_needed or time.monotonic() - last_unconverged < quiet:
        if time.monotonic() - started > timeout:
            raise UnexpectedResponse("predict", 503, f"the workers did not all serve the active model within "
                                                     f"{timeout:.0f} s ({unconverged} answers without a model)")
        response = client.call("predict_warmup", "POST", "/api/v1/model/predict/", expect=(200, 503), record=False,
                               headers={"Connection": "close"},
                               json={"values": random_vector(rng, dimension), "feature_version": feature_version})
        if response.status_code == 200:
            successes += 1
        elif response.json().get("code") == "no_active_model":
            successes, unconverged, last_unconverged = 0, unconverged + 1, time.monotonic()
        else:
            raise UnexpectedResponse("predict", 503, response.text[:300])
        time.sleep(0.05)
    return unconverged


def sequence_seen_before(polls: list[tuple[float, float, int]], sent: float) -> int | None:
    """The highest load sequence among the polls ``(sent, answered, sequence)`` answered before ``sent``: a poll
    sent later must not see less. Polls that overlap may finish in any order, so they are not compared."""
    earlier = [sequence for _, answered, sequence in polls if answered < sent]
    return max(earlier) if earlier else None


def concurrency_reload(client: StressClient, *, feature_version: str, versions: list[str] | None, bounds: Bounds,
                       reloaders: int, classifiers: int, searchers: int, seed: int = 11) -> ScenarioResult:
    """Threads reload models while others classify and search; no errors, sequences only move forward."""
    result = ScenarioResult("stress_concurrency_reload")
    status = _model_status(client)
    if not status.get("active"):
        raise UnexpectedResponse("model_status", 200, "no active model: activate one before stressing reloads")
    versions = versions or [status["active"]["label"]]
    dimension = feature_dimension(client, feature_version)
    unconverged = _await_active_model_everywhere(client, feature_version=feature_version, dimension=dimension)
    start_sequence = int(_model_status(client)["load_sequence"])
    lock = threading.Lock()
    reload_sequences: dict[str, list[int]] = {}
    polls: list[tuple[float, float, int]] = []  # (sent, answered, load sequence) of each GET /api/v1/model/
    predicted_versions: Counter = Counter()
    reloads_done = Counter()
    errors: list[str] = []
    stop = threading.Event()

    def reload_step(i: int, rng: random.Random) -> None:
        label = versions[i % len(versions)]
        answer = client.json("reload", "POST", "/api/v1/model/reload/", ops=True,
                             json={"version": label, "reason": "stress_concurrency_reload"})
        with lock:
            reload_sequences.setdefault(threading.current_thread().name, []).append(int(answer["load_sequence"]))
            reloads_done[label] += 1
        if answer["version"]["label"] != label:
            errors.append(f"reload of {label} answered version {answer['version']['label']}")

    def classify_step(i: int, rng: random.Random) -> None:
        answer = client.json("predict", "POST", "/api/v1/model/predict/",
                             json={"values": random_vector(rng, dimension), "feature_version": feature_version})
        with lock:
            predicted_versions[answer["model_version"]] += 1
        if answer["model_version"] not in versions:
            errors.append(f"a prediction came from model {answer['model_version']}, not one of {versions}")
        if i % 5 == 0:
            sent = time.monotonic()
            polled = int(_model_status(client)["load_sequence"])
            answered = time.monotonic()
            with lock:
                newest = sequence_seen_before(polls, sent)
                if newest is not None and polled < newest:
                    errors.append(f"GET /api/v1/model/ load sequence went back from {newest} to {polled}")
                polls.append((sent, answered, polled))

    def search_step(i: int, rng: random.Random) -> None:
        answer = client.json("similarity", "POST", "/api/v1/vectors/similarity/",
                             json={"feature_version": feature_version, "vector": random_vector(rng, dimension),
                                   "k": 5})
        if not isinstance(answer.get("results"), list):
            errors.append("a similarity answer has no results list")

    started = time.perf_counter()
    _run_threads({"reload": (reloaders, reload_step), "classify": (classifiers, classify_step),
                  "search": (searchers, search_step)}, bounds, stop, errors)
    elapsed = time.perf_counter() - started
    end_sequence = int(_model_status(client)["load_sequence"])

    total_reloads = sum(reloads_done.values())
    for thread, sequences in sorted(reload_sequences.items()):
        if any(b <= a for a, b in zip(sequences, sequences[1:])):
            result.fail(f"{thread}: load sequences not strictly increasing: {sequences}")
        if sequences and sequences[0] <= start_sequence:
            result.fail(f"{thread}: first reload answered sequence {sequences[0]} <= the start {start_sequence}")
    if end_sequence - start_sequence != total_reloads:
        result.fail(f"load sequence moved from {start_sequence} to {end_sequence} for {total_reloads} successful "
                    "reloads (each reload must advance it by exactly one)")
    if total_reloads == 0:
        result.fail("no reload completed")
    if sum(predicted_versions.values()) == 0:
        result.fail("no classification completed")
    for error in errors[:20]:
        result.fail(error)

    requests_done = len(client.log.records)
    result.lines.append(f"threads: {reloaders} reloading {versions}, {classifiers} classifying, {searchers} "
                        f"searching ({feature_version}); {elapsed:.1f} s, {requests_done} requests, "
                        f"{requests_done / elapsed:.1f} req/s")
    result.lines.append(f"warm-up: {unconverged} predictions answered 503 no_active_model before every worker "
                        "served the active model")
    result.lines.append(f"load sequence: {start_sequence} -> {end_sequence} after {total_reloads} reloads "
                        f"({dict(reloads_done)})")
    result.lines.append(f"predictions by model version: {dict(predicted_versions)}")
    result.figures.update({"reloads": total_reloads, "requests_per_second": requests_done / elapsed})
    return result.finish(client)


# ---- stress_memory_gc_check ----------------------------------------------------------------------------------------
def _memory_and_gc(client: StressClient, *, fresh: bool) -> tuple[float, float, dict[str, float]]:
    """Resident memory (sum and largest worker) and gc counts as the server's /metrics reports them."""
    if fresh:
        # Workers publish these at the end of a request, at most once a second: wait, then send requests on new
        # connections so that every worker process serves one and publishes current figures.
        time.sleep(1.1)
        for _ in range(8):
            client.call("publish", "GET", "/api/v1/health/live/", record=False, headers={"Connection": "close"})
    snapshot = client.metrics()
    rss = snapshot.require("cadml_process_resident_memory_bytes")
    largest = snapshot.require("cadml_process_resident_memory_max_bytes")
    gc_counts = {f"gen{g}": snapshot.value("cadml_gc_collections_total", {"generation": str(g)}) or 0.0
                 for g in range(3)}
    gc_counts["collected"] = snapshot.value("cadml_gc_objects_total", {"outcome": "collected"}) or 0.0
    gc_counts["uncollectable"] = snapshot.value("cadml_gc_objects_total", {"outcome": "uncollectable"}) or 0.0
    return rss, largest, gc_counts


def memory_gc_check(client: StressClient, *, feature_version: str, bounds: Bounds, warmup: int, files: int,
                    reload_every: int, max_growth_mb_per_1000: float, seed: int = 13) -> ScenarioResult:
    """Repeated analyze, search and (optionally) reload cycles; memory growth per 1000 cycles must stay bounded."""
    if warmup < 0 or files < 1 or reload_every < 0 or max_growth_mb_per_1000 <= 0:
        raise ValueError("--warmup >= 0, --files >= 1, --reload-every >= 0 and --max-growth-mb > 0 are required")
    result = ScenarioResult("stress_memory_gc_check")
    rng = random.Random(seed)
    payloads = box_variants(files)
    dimension = feature_dimension(client, feature_version)
    reload_label = None
    if reload_every:
        status = _model_status(client)
        if not status.get("active"):
            raise UnexpectedResponse("model_status", 200, "no active model to reload (use --reload-every 0)")
        reload_label = status["active"]["label"]

    def cycle(i: int) -> None:
        name, data = payloads[i % len(payloads)]
        client.json("analyze", "POST", "/api/v1/analyze/", expect=(201,), files={"file": (name, data)},
                    data={"feature_version": feature_version, "similar_k": "3"})
        client.json("similarity", "POST", "/api/v1/vectors/similarity/",
                    json={"feature_version": feature_version, "vector": random_vector(rng, dimension), "k": 5})
        if reload_label and i % reload_every == reload_every - 1:
            client.json("reload", "POST", "/api/v1/model/reload/", ops=True,
                        json={"version": reload_label, "reason": "stress_memory_gc_check"})

    for i in range(warmup):  # caches, pools and indexes reach their working size first
        cycle(i)
    rss_before, largest_before, gc_before = _memory_and_gc(client, fresh=True)
    deadline = time.monotonic() + bounds.duration
    cycles = 0
    started = time.perf_counter()
    while cycles < bounds.iterations and time.monotonic() < deadline:
        cycle(warmup + cycles)
        cycles += 1
    elapsed = time.perf_counter() - started
    rss_after, largest_after, gc_after = _memory_and_gc(client, fresh=True)

    growth_mb = (rss_after - rss_before) / 2**20
    per_1000 = growth_mb * 1000 / cycles if cycles else float("inf")
    gc_delta = {k: gc_after[k] - gc_before[k] for k in gc_after}
    result.lines.append(f"cycles: {cycles} (after {warmup} warm-up) in {elapsed:.1f} s, {cycles / elapsed:.1f} "
                        f"cycles/s; analyze + search{' + reload every ' + str(reload_every) if reload_every else ''}")
    result.lines.append(f"resident memory (sum over workers): {rss_before / 2**20:.1f} MiB -> "
                        f"{rss_after / 2**20:.1f} MiB; largest worker {largest_before / 2**20:.1f} -> "
                        f"{largest_after / 2**20:.1f} MiB")
    result.lines.append(f"resident memory growth per 1000 cycles: {per_1000:.1f} MiB "
                        f"(bound {max_growth_mb_per_1000:g} MiB)")
    result.lines.append("gc during the run: " + ", ".join(f"{k}={v:.0f}" for k, v in gc_delta.items()))
    result.figures.update({"cycles": cycles, "growth_mb_per_1000": per_1000, "rss_mb": rss_after / 2**20,
                           **{f"gc_{k}": v for k, v in gc_delta.items()}})
    if cycles == 0:
        result.fail("no cycle ran")
    elif per_1000 > max_growth_mb_per_1000:
        result.fail(f"resident memory grew {per_1000:.1f} MiB per 1000 cycles (bound {max_growth_mb_per_1000:g})")
    if gc_delta["uncollectable"] > 0:
        result.fail(f"{gc_delta['uncollectable']:.0f} uncollectable objects appeared during the run")
    return result.finish(client)

__all__ = ["Bounds", "ScenarioResult", "concurrency_reload", "degradation_flapping", "memory_gc_check"]
