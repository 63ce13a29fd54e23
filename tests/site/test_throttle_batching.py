"""The throttle counts locally and syncs with the shared cache in batches, without giving the budget away."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache.backends.locmem import LocMemCache

from cadml_site.api.authentication import Credentials
from cadml_site.api.throttling import SYNC_SLICES, ApiKeyScopedThrottle, LocalCounters


_names = itertools.count()


class CountingCache(LocMemCache):
    def __init__(self):
        super().__init__(f"throttle-test-{next(_names)}", {})  # locmem caches of one name share storage
        self.calls = 0

    def get(self, *args, **kwargs):
        self.calls += 1
        return super().get(*args, **kwargs)

    def incr(self, *args, **kwargs):
        self.calls += 1
        return super().incr(*args, **kwargs)

    def add(self, *args, **kwargs):
        self.calls += 1
        return super().add(*args, **kwargs)


class _Key:
    prefix = "abcd1234"


class _Request:
    auth = Credentials(api_key=_Key())
    META = {"REMOTE_ADDR": "127.0.0.1"}


class _View:
    throttle_scope = "default"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _worker(cache, clock, rate: str):
    """A throttle class as one gunicorn worker would hold it: its own counters, the shared cache."""
    return type("WorkerThrottle", (ApiKeyScopedThrottle,), {
        "cache": cache, "counters": LocalCounters(), "timer": staticmethod(clock),
        "THROTTLE_RATES": {"default": rate}})


def _admitted(throttle_class, n: int) -> int:
    return sum(throttle_class().allow_request(_Request(), _View()) for _ in range(n))


def test_a_large_budget_costs_one_round_trip_per_slice_not_per_request():
    cache, clock = CountingCache(), Clock(6000.0)
    worker = _worker(cache, clock, "6000/min")
    assert _admitted(worker, 1000) == 1000
    slice_size = 6000 // SYNC_SLICES
    # the previous window's count once, then one incr per slice (plus the first request's sync)
    assert cache.calls <= 2 + 1000 // slice_size + 1
    assert cache.get(f"throttle:default:key:{_Key.prefix}:{int(clock.now // 60)}") >= 1000 - slice_size


def test_a_small_budget_is_exact():
    cache, clock = CountingCache(), Clock(6000.0)
    worker = _worker(cache, clock, "3/min")
    assert [worker().allow_request(_Request(), _View()) for _ in range(5)] == [True, True, True, False, False]


def test_workers_sharing_a_budget_overrun_it_by_at_most_a_slice_each():
    cache, clock = CountingCache(), Clock(6000.0)
    workers = [_worker(cache, clock, "500/min") for _ in range(4)]
    admitted = 0
    for _ in range(300):  # interleaved, within one second: no time-based sync helps
        for worker in workers:
            admitted += worker().allow_request(_Request(), _View())
    slice_size = max(1, 500 // SYNC_SLICES)
    assert 500 <= admitted <= 500 + len(workers) * slice_size


def test_the_window_boundary_is_no_reset():
    cache, clock = CountingCache(), Clock(6059.9)  # 0.1 s before a minute boundary
    worker = _worker(cache, clock, "3/min")
    assert _admitted(worker, 3) == 3
    clock.now = 6060.2  # the next fixed window: the previous one still counts almost fully
    throttle = worker()
    assert throttle.allow_request(_Request(), _View()) is False
    assert 1 <= throttle.wait() <= 60
    clock.now = 6060 + 45  # three quarters of the old window have slid out: room for about 2
    assert _admitted(worker, 3) == 2


@pytest.mark.django_db
def test_an_authenticated_request_costs_no_throttle_round_trip_within_a_second(key_client, monkeypatch,
                                                                               django_assert_num_queries):
    """With the database cache (the Postgres default), a throttle check is SQL: it must not run per request."""
    from cadml_site.api import authentication, throttling

    monkeypatch.setattr(throttling, "SYNC_SECONDS", 30.0)  # a loaded machine must not cross the sync interval
    monkeypatch.setattr(authentication.credential_cache, "ttl_seconds", 30.0)
    from django.core.management import call_command
    from django.test import override_settings

    db_cache = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                            "LOCATION": "cadml_cache_test"}}
    with override_settings(CACHES=db_cache):  # setting_changed rebuilds the cache handlers
        from django.core.cache import caches
        from django.core.cache.backends.db import DatabaseCache

        call_command("createcachetable", verbosity=0)
        cache = caches["default"]
        assert isinstance(cache, DatabaseCache)
        original = ApiKeyScopedThrottle.cache
        ApiKeyScopedThrottle.cache = cache
        try:
            # the first request reads the credential row, records its use and syncs the throttle (SQL here)
            assert key_client.get("/api/v1/auth/whoami/").status_code == 200
            with django_assert_num_queries(0):
                for _ in range(5):
                    assert key_client.get("/api/v1/auth/whoami/").status_code == 200
        finally:
            ApiKeyScopedThrottle.cache = original
