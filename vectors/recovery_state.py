"""Maps an ``IndexState`` row to the pure recovery policy's state and back (datetimes <-> epoch seconds)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from vectors.index.recovery_policy import RecoveryState
from vectors.models import IndexState


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.get_current_timezone())


def policy_state(row: IndexState) -> RecoveryState:
    return RecoveryState(failures=row.recovery_failures, next_attempt_at=_ts(row.next_attempt_at),
                         suppressed_until=_ts(row.suppressed_until),
                         degradations=tuple(float(t) for t in row.degradation_times or ()))


def store_policy_state(row: IndexState, state: RecoveryState) -> None:
    row.recovery_failures = state.failures
    row.next_attempt_at = _dt(state.next_attempt_at)
    row.suppressed_until = _dt(state.suppressed_until)
    row.degradation_times = list(state.degradations)
