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
from datetime import datetime, timezone
from collections.abc import Callable
from dataclasses import dataclass, field

from cadml_site.stress.client import StressClient, UnexpectedResponse
from cadml_site.stress.payloads import box_variants

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
            except UnexpectedResponse as exc:
                errors.append(f"{role}: {exc}")
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
    for cycle in range(1, cycles + 1):
        degraded = client.json("degrade", "POST", "/api/v1/vectors/index/degrade/", ops=True, json={
            "feature_version": feature_version, "reason": f"stress_degradation_flapping cycle {cycle}",
            "duration_seconds": drill_seconds})
        if not degraded.get("degraded"):
            result.fail(f"cycle {cycle}: degrade answered degraded={degraded.get('degraded')}")
        search = client.json("similarity_degraded", "POST", "/api/v1/vectors/similarity/", json={
            "feature_version": feature_version, "vector": random_vector(rng, dimension), "k": 5})
        if (search["backend"], search["degraded"]) != ("memory", True):
            result.fail(f"cycle {cycle}: a search during the drill answered backend={search['backend']} "
                        f"degraded={search['degraded']}")
        duration = client.metrics().value("faiss_degraded_duration_seconds")
        if duration is None or duration <= 0:
            result.fail(f"cycle {cycle}: faiss_degraded_duration_seconds is {duration} during the drill")
        recovered = client.json("recover", "POST", "/api/v1/vectors/index/recover/", ops=True, json={
            "feature_version": feature_version, "reason": f"stress_degradation_flapping cycle {cycle}"})
        if recovered.get("result") != "success":
            result.fail(f"cycle {cycle}: recover answered {recovered}")
        search = client.json("similarity_restored", "POST", "/api/v1/vectors/similarity/", json={
            "feature_version": feature_version, "vector": random_vector(rng, dimension), "k": 5})
        if (search["backend"], search["degraded"]) != ("faiss", False):
            result.fail(f"cycle {cycle}: a search after recovery answered backend={search['backend']} "
                        f"degraded={search['degraded']}")
        row = _index_row(client, feature_version)
        if suppression_seen_at is None and row.get("suppression_left_seconds", 0) > 0:
            suppression_seen_at = cycle

    after_row = _index_row(client, feature_version)
    snapshot = client.metrics()
    metric_deltas = {event: (snapshot.value("similarity_degraded_total", {"event": event}) or 0.0)
                     - metrics_before[event] for event in DEGRADED_EVENTS}
    # The status lists the last 20 events, newest first: count those recorded since the scenario started.
    new_events = Counter(e["event"] for e in after_row.get("events", [])
                         if datetime.fromisoformat(e["at"]) >= started)
    suppression_active = snapshot.value("faiss_flap_suppression_active")
    recoveries = (snapshot.value("faiss_recovery_attempts_total", {"result": "success"}) or 0.0) - recoveries_before

    result.lines.append(f"cycles: {cycles} drill/recover on {feature_version} (dimension {dimension})")
    result.lines.append("events (status) : " + ", ".join(f"{k}={v}" for k, v in sorted(new_events.items())))
    result.lines.append("metric deltas   : " + ", ".join(f"{k}={v:.0f}" for k, v in sorted(metric_deltas.items())
                                                         if v))
    result.lines.append(f"flap suppression: {'engaged at cycle ' + str(suppression_seen_at) if suppression_seen_at else 'never engaged'}"
                        f"; suppression left {after_row.get('suppression_left_seconds', 0):.0f} s; "
                        f"faiss_flap_suppression_active={suppression_active}")
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
    if not metric_deltas["suppressed"]:
        result.fail("no 'suppressed' event was counted")
    if suppression_active != 1.0:
        result.fail(f"faiss_flap_suppression_active is {suppression_active}, expected 1 after flapping")
    if after_row.get("degraded"):
        result.fail("the index is still degraded after the last recovery")
    return result.finish(client)


__all__ = ["Bounds", "ScenarioResult", "degradation_flapping", "box_variants"]
