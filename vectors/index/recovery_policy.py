"""When to try an automatic index recovery: capped exponential backoff with full jitter, and flap suppression.

Pure logic over a small state record; the caller supplies the time (``now``, epoch seconds) and a
``random.Random``, so tests drive it with a controllable clock, and the service persists the state in the
database so it survives restarts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from enum import Enum


@dataclass(frozen=True)
class RecoveryPolicy:
    base_seconds: float = 10.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    flap_threshold: int = 3
    flap_window_seconds: float = 900.0
    suppression_seconds: float = 300.0

    def backoff_ceiling(self, failures: int) -> float:
        """Upper bound of the wait before the next attempt after ``failures`` failed attempts."""
        return min(self.cap_seconds, self.base_seconds * self.factor ** max(0, failures))

    def backoff_delay(self, failures: int, rng: random.Random) -> float:
        """Full jitter: a uniform wait between 0 and the capped exponential ceiling."""
        return rng.uniform(0.0, self.backoff_ceiling(failures))


@dataclass(frozen=True)
class RecoveryState:
    failures: int = 0
    next_attempt_at: float | None = None
    suppressed_until: float | None = None
    degradations: tuple[float, ...] = field(default_factory=tuple)


class Decision(str, Enum):
    ATTEMPT = "attempt"
    WAIT = "skipped"
    SUPPRESSED = "suppressed"


def on_degraded(policy: RecoveryPolicy, state: RecoveryState, now: float,
                rng: random.Random) -> tuple[RecoveryState, bool]:
    """Records a degradation; returns the new state and whether flap suppression starts now."""
    recent = tuple(t for t in state.degradations if now - t < policy.flap_window_seconds) + (now,)
    suppressed_until = state.suppressed_until
    starts = False
    if len(recent) >= policy.flap_threshold and not is_suppressed(state, now):
        suppressed_until = now + policy.suppression_seconds
        starts = True
    return replace(state, failures=0, next_attempt_at=now + policy.backoff_delay(0, rng),
                   suppressed_until=suppressed_until, degradations=recent), starts


def decide(state: RecoveryState, now: float, *, manual: bool = False) -> Decision:
    """Whether an attempt runs now. A manual attempt ignores backoff and suppression."""
    if manual:
        return Decision.ATTEMPT
    if is_suppressed(state, now):
        return Decision.SUPPRESSED
    if state.next_attempt_at is not None and now < state.next_attempt_at:
        return Decision.WAIT
    return Decision.ATTEMPT


def on_failure(policy: RecoveryPolicy, state: RecoveryState, now: float, rng: random.Random) -> RecoveryState:
    failures = state.failures + 1
    return replace(state, failures=failures, next_attempt_at=now + policy.backoff_delay(failures, rng))


def on_success(state: RecoveryState) -> RecoveryState:
    """Clears the backoff; the degradation history stays so that flapping is still detected."""
    return replace(state, failures=0, next_attempt_at=None, suppressed_until=None)


def is_suppressed(state: RecoveryState, now: float) -> bool:
    return state.suppressed_until is not None and now < state.suppressed_until


def seconds_until_next_attempt(state: RecoveryState, now: float) -> float:
    waits = [0.0]
    if state.next_attempt_at is not None:
        waits.append(state.next_attempt_at - now)
    if state.suppressed_until is not None:
        waits.append(state.suppressed_until - now)
    return max(waits)


def suppression_left(state: RecoveryState, now: float) -> float:
    return max(0.0, (state.suppressed_until or now) - now)
