"""The cache holder against a fake ``CacheSource``: no database, no Django (the holder is Django-free)."""

from __future__ import annotations

import itertools

import pytest

from cachectl.holder import CacheHolder, CacheSettingsState, SettingsUnreadable

_names = itertools.count()


class FakeSource:
    def __init__(self, **state):
        self.state = CacheSettingsState(**{"capacity": 100, "ttl_seconds": 60, "policy": "w-tinylfu",
                                           "generation": 1, "prewarm_generation": 0, **state})
        self.unreadable = False
        self.replayed: list[int] = []
        self.recorded: list[dict] = []
        self.threads_ended = 0

    def settings_state(self):
        if self.unreadable:
            raise SettingsUnreadable("OperationalError: the database is down")
        return self.state

    def default_settings(self):
        return CacheSettingsState(capacity=7, ttl_seconds=5, policy="lru", generation=0, prewarm_generation=0)

    def shared_tier_url(self):
        return None

    def may_flush_activity(self):
        return True

    def record_activity(self, activity):
        self.recorded.append(activity)
        return len(activity)

    def replay_prewarm(self, generation):
        self.replayed.append(generation)

    def end_thread(self):
        self.threads_ended += 1


def make_holder(source):
    holder = CacheHolder(name=f"test.cache.{next(_names)}")
    holder.bind(source)
    return holder


def test_an_unbound_holder_refuses_to_start():
    with pytest.raises(RuntimeError, match="no source"):
        CacheHolder(name=f"test.cache.{next(_names)}").cache()


def test_built_on_first_use_from_the_source_and_converges_on_a_new_generation():
    source = FakeSource()
    holder = make_holder(source)
    assert holder.generation is None  # nothing started to answer
    cache = holder.cache()
    assert (cache.capacity, cache.policy, holder.generation) == (100, "w-tinylfu", 1)
    cache.put("k", 1)
    source.state = CacheSettingsState(capacity=50, ttl_seconds=60, policy="lru", generation=2, prewarm_generation=0)
    assert holder.cache().capacity == 100  # inside the check interval
    holder.sync()
    assert holder.cache() is cache and (cache.capacity, cache.policy, holder.generation) == (50, "lru", 2)
    assert cache.peek("k") == 1  # reconfigured live, not rebuilt


def test_unreadable_settings_serve_the_defaults_and_recover():
    source = FakeSource()
    source.unreadable = True
    holder = make_holder(source)
    assert (holder.cache().capacity, holder.cache().policy) == (7, "lru")
    assert "database is down" in holder.last_sync_error
    source.unreadable = False
    holder.sync()
    assert holder.last_sync_error == "" and holder.cache().capacity == 100


def test_a_new_process_replays_the_latest_prewarm_and_later_runs_once_each():
    source = FakeSource(prewarm_generation=3)
    holder = make_holder(source)
    holder.cache()
    holder.wait_for_replay(timeout=5)
    assert source.replayed == [3] and source.threads_ended == 1
    holder.mark_prewarm_seen(4)  # this process ran generation 4 itself
    source.state = CacheSettingsState(capacity=100, ttl_seconds=60, policy="w-tinylfu", generation=1,
                                      prewarm_generation=4)
    holder.sync()
    holder.wait_for_replay(timeout=5)
    assert source.replayed == [3]


def test_activity_flush_and_reset():
    source = FakeSource()
    holder = make_holder(source)
    holder.cache().get("a")
    holder.cache().get("a")
    assert holder.flush_key_activity() == 1 and source.recorded == [{"a": (0, 2)}]
    first = holder.cache()
    holder.reset()
    assert holder.generation is None and holder.flush_key_activity() == 0
    assert holder.cache() is not first
