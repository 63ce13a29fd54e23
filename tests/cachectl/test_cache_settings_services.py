"""Apply, the rollback window, rollback, confirm, snapshot restore, restart persistence, bounds, audit."""

from __future__ import annotations

import time

import pytest

from cachectl import selectors
from cachectl.holder import holder
from cachectl.models import CacheAuditRecord, CacheSettingsChange, CacheSnapshot
from cachectl.services import (
    cache_settings_apply,
    cache_settings_confirm,
    cache_settings_rollback,
    cache_snapshot_restore,
)
from cadml_site.errors import BadRequest, Conflict, NotFound

pytestmark = pytest.mark.django_db(transaction=True)


def current() -> dict:
    return selectors.cache_settings_state().settings_dict()


def test_apply_snapshots_applies_opens_window_and_audits(settings):
    defaults = current()
    assert defaults == {"capacity": settings.CADML_CACHE_CAPACITY, "ttl_seconds": settings.CADML_CACHE_TTL_SECONDS,
                        "policy": settings.CADML_CACHE_POLICY}
    change = cache_settings_apply(actor="ops-alice", reason="bigger cache", capacity=5000)
    assert current() == {**defaults, "capacity": 5000}
    assert holder.cache().capacity == 5000  # this process applied it on commit
    assert change.outcome == CacheSettingsChange.Outcome.OPEN
    window = selectors.cache_rollback_window()
    assert window["change_id"] == change.pk
    assert 0 < window["seconds_left"] <= settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS
    snapshot = CacheSnapshot.objects.get()
    assert snapshot.settings_dict() == defaults
    assert {"hits", "misses", "size", "evictions", "expirations"} <= set(snapshot.stats)
    audit = CacheAuditRecord.objects.get()
    assert (audit.action, audit.actor, audit.reason) == ("apply", "ops-alice", "bigger cache")
    assert audit.before == defaults
    assert audit.after["capacity"] == 5000 and audit.after["change_id"] == change.pk


def test_second_apply_inside_the_window_is_refused_with_the_deadline():
    change = cache_settings_apply(actor="ops-alice", reason="first", capacity=3000)
    with pytest.raises(Conflict) as excinfo:
        cache_settings_apply(actor="ops-alice", reason="second", ttl_seconds=60)
    assert excinfo.value.code == "rollback_window_active"
    assert excinfo.value.context["change_id"] == change.pk
    assert excinfo.value.context["deadline"] == change.deadline.isoformat()
    assert current()["capacity"] == 3000 and current()["ttl_seconds"] != 60
    assert CacheAuditRecord.objects.count() == 1


def test_rollback_inside_the_window_restores_the_snapshot():
    before = current()
    change = cache_settings_apply(actor="ops-alice", reason="try lru", capacity=123, policy="lru")
    assert holder.cache().policy == "lru"
    rollback = cache_settings_rollback(actor="ops-bob", reason="worse hit ratio")
    assert current() == before
    assert holder.cache().capacity == before["capacity"] and holder.cache().policy == before["policy"]
    change.refresh_from_db()
    assert (change.outcome, change.resolved_by) == (CacheSettingsChange.Outcome.ROLLED_BACK, "ops-bob")
    assert rollback.kind == CacheSettingsChange.Kind.ROLLBACK and rollback.after == before
    assert selectors.cache_rollback_window() is None
    assert [a.action for a in CacheAuditRecord.objects.all()] == ["rollback", "apply"]
    with pytest.raises(Conflict) as excinfo:  # nothing left to roll back
        cache_settings_rollback(actor="ops-bob", reason="again")
    assert excinfo.value.code == "nothing_to_rollback"


def test_rollback_after_the_window_is_refused(short_window):
    change = cache_settings_apply(actor="ops-alice", reason="short", capacity=777)
    time.sleep(short_window + 0.2)
    with pytest.raises(Conflict) as excinfo:
        cache_settings_rollback(actor="ops-alice", reason="too late")
    assert excinfo.value.code == "rollback_window_expired"
    assert excinfo.value.context["deadline"] == change.deadline.isoformat()
    assert current()["capacity"] == 777
    window = selectors.cache_rollback_window()  # unconfirmed: still reported, flagged expired
    assert window["expired"] and window["seconds_left"] == 0
    assert selectors.cache_rollback_window_age_seconds() > short_window
    # a new apply after the deadline supersedes the expired window
    cache_settings_apply(actor="ops-alice", reason="next", capacity=778)
    change.refresh_from_db()
    assert change.outcome == CacheSettingsChange.Outcome.SUPERSEDED


def test_nothing_to_rollback_without_any_change():
    with pytest.raises(Conflict) as excinfo:
        cache_settings_rollback(actor="ops-alice", reason="nothing")
    assert excinfo.value.code == "nothing_to_rollback"


def test_confirm_closes_the_window_and_allows_the_next_apply():
    change = cache_settings_apply(actor="ops-alice", reason="first", capacity=3000)
    cache_settings_confirm(actor="ops-bob", reason="looks good")
    change.refresh_from_db()
    assert change.outcome == CacheSettingsChange.Outcome.CONFIRMED
    assert selectors.cache_rollback_window() is None
    assert selectors.cache_rollback_window_age_seconds() == 0
    with pytest.raises(Conflict) as excinfo:
        cache_settings_rollback(actor="ops-bob", reason="confirmed already")
    assert excinfo.value.code == "nothing_to_rollback"
    with pytest.raises(Conflict) as excinfo:
        cache_settings_confirm(actor="ops-bob")
    assert excinfo.value.code == "no_open_window"
    cache_settings_apply(actor="ops-alice", reason="second", capacity=4000)
    assert current()["capacity"] == 4000
    assert [a.action for a in CacheAuditRecord.objects.all()] == ["apply", "confirm", "apply"]


def test_snapshot_restore_applies_it_with_the_same_window_rules():
    original = current()
    cache_settings_apply(actor="ops-alice", reason="one", capacity=1500, ttl_seconds=120)
    cache_settings_confirm(actor="ops-alice")
    snapshot = CacheSnapshot.objects.get()  # the original settings
    change = cache_snapshot_restore(snapshot_id=snapshot.pk, actor="ops-bob", reason="back to defaults")
    assert current() == original
    assert change.kind == CacheSettingsChange.Kind.RESTORE and change.restored_from_id == snapshot.pk
    with pytest.raises(Conflict) as excinfo:  # restore opened a window
        cache_snapshot_restore(snapshot_id=snapshot.pk, actor="ops-bob", reason="again")
    assert excinfo.value.code == "rollback_window_active"
    cache_settings_rollback(actor="ops-bob", reason="undo the restore")
    assert current() == {**original, "capacity": 1500, "ttl_seconds": 120}
    with pytest.raises(NotFound):
        cache_snapshot_restore(snapshot_id=999_999, actor="ops-bob", reason="missing")


def test_window_and_rollback_survive_a_restart():
    before = current()
    change = cache_settings_apply(actor="ops-alice", reason="before restart", capacity=2222)
    holder.reset()  # a new process: nothing in memory
    assert holder.cache().capacity == 2222
    assert selectors.cache_rollback_window()["change_id"] == change.pk
    cache_settings_rollback(actor="ops-alice", reason="after restart")
    assert current() == before
    assert holder.cache().capacity == before["capacity"]


@pytest.mark.parametrize("kwargs, code", [
    ({"capacity": 0}, "out_of_bounds"),
    ({"capacity": -5}, "out_of_bounds"),
    ({"capacity": 10**12}, "out_of_bounds"),
    ({"capacity": True}, "out_of_bounds"),
    ({"ttl_seconds": 0}, "out_of_bounds"),
    ({"ttl_seconds": 10**9}, "out_of_bounds"),
    ({"policy": "fifo"}, "out_of_bounds"),
    ({}, "nothing_to_apply"),
])
def test_bounds_are_validated(kwargs, code):
    with pytest.raises(BadRequest) as excinfo:
        cache_settings_apply(actor="ops-alice", reason="bad", **kwargs)
    assert excinfo.value.code == code
    assert CacheSettingsChange.objects.count() == 0


def test_reason_is_required_and_no_op_is_refused():
    with pytest.raises(BadRequest) as excinfo:
        cache_settings_apply(actor="ops-alice", reason="  ", capacity=10)
    assert excinfo.value.code == "reason_required"
    with pytest.raises(Conflict) as excinfo:  # a state, not a malformed request: 409
        cache_settings_apply(actor="ops-alice", reason="same", capacity=current()["capacity"])
    assert excinfo.value.code == "settings_unchanged" and excinfo.value.status == 409


def test_concurrent_applies_one_wins_the_other_sees_the_window():
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    outcomes = []

    def apply(capacity: int) -> None:
        try:
            barrier.wait(timeout=10)
            cache_settings_apply(actor=f"ops-{capacity}", reason="race", capacity=capacity)
            outcomes.append(("applied", capacity))
        except Conflict as exc:
            outcomes.append((exc.code, capacity))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(capacity,)) for capacity in (3001, 3002)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(code for code, _ in outcomes) == ["applied", "rollback_window_active"]
    winner = next(capacity for code, capacity in outcomes if code == "applied")
    assert current()["capacity"] == winner
    assert CacheSettingsChange.objects.count() == 1 and CacheSnapshot.objects.count() == 1
