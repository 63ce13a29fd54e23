import random

import pytest

from vectors.index.recovery_policy import (
    Decision,
    RecoveryPolicy,
    RecoveryState,
    decide,
    on_degraded,
    on_failure,
    on_success,
    seconds_until_next_attempt,
    suppression_left,
)

POLICY = RecoveryPolicy()


def test_backoff_ceiling_doubles_from_10s_and_caps_at_300s():
    assert [POLICY.backoff_ceiling(n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def test_full_jitter_spreads_over_zero_to_ceiling():
    rng = random.Random(1)
    delays = [POLICY.backoff_delay(3, rng) for _ in range(2000)]
    assert 0 <= min(delays) < 5 and 75 < max(delays) <= 80
    assert 35 < sum(delays) / len(delays) < 45


def test_attempts_wait_for_backoff_then_run():
    state, _ = on_degraded(POLICY, RecoveryState(), 1000.0, random.Random(3))
    assert 1000 <= state.next_attempt_at <= 1010
    assert decide(state, state.next_attempt_at - 0.1) is Decision.WAIT
    assert decide(state, state.next_attempt_at) is Decision.ATTEMPT
    failed = on_failure(POLICY, state, 1010.0, random.Random(3))
    assert failed.failures == 1 and 1010 <= failed.next_attempt_at <= 1030
    assert seconds_until_next_attempt(failed, 1010.0) == pytest.approx(failed.next_attempt_at - 1010.0)


def test_transient_fault_is_repaired_well_within_two_minutes():
    for seed in range(200):
        rng, now = random.Random(seed), 0.0
        state, _ = on_degraded(POLICY, RecoveryState(), now, rng)
        failures_left = 2  # the fault lasts for two attempts
        while True:
            now += 5.0  # the beat tick
            if decide(state, now) is Decision.ATTEMPT:
                if failures_left == 0:
                    break
                failures_left -= 1
                state = on_failure(POLICY, state, now, rng)
        assert now <= 80.0


def test_three_degradations_within_15_minutes_suppress_for_5_minutes():
    rng, state = random.Random(0), RecoveryState()
    state, starts = on_degraded(POLICY, state, 0.0, rng)
    assert not starts
    state = on_success(state)
    state, starts = on_degraded(POLICY, state, 300.0, rng)
    assert not starts
    state = on_success(state)
    state, starts = on_degraded(POLICY, state, 800.0, rng)
    assert starts and state.suppressed_until == 1100.0
    assert decide(state, 1099.0) is Decision.SUPPRESSED
    assert decide(state, 1099.0, manual=True) is Decision.ATTEMPT
    assert suppression_left(state, 1000.0) == 100.0
    assert decide(state, 1100.0) is Decision.ATTEMPT


def test_degradations_spread_over_more_than_15_minutes_do_not_suppress():
    rng, state = random.Random(0), RecoveryState()
    for t in (0.0, 600.0, 1200.0, 1800.0):
        state, starts = on_degraded(POLICY, state, t, rng)
        assert not starts
        state = on_success(state)
    assert len(state.degradations) == 2  # older ones fell out of the window
