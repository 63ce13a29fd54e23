"""The served version is read at most once a second per process: a request within the second costs no statement, a
switch made by another process shows within the second, and this process's own migration shows at once."""

from __future__ import annotations

import time

import pytest

from vectors.models import ServedVersion
from vectors.selectors import served_feature_version
from vectors.served_version_cache import served_version_cache

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def switched_by_another_process(version: str) -> None:
    """What a migration published by another process leaves in this one: the row changed, the cache untouched."""
    ServedVersion.objects.filter(singleton=1).update(feature_version=version)


def test_within_the_second_the_version_costs_no_statement(settings, monkeypatch, django_assert_num_queries):
    settings.CADML_FEATURE_VERSION = "v3"
    clock = Clock()
    monkeypatch.setattr(served_version_cache, "clock", clock)
    assert served_feature_version() == "v3"
    switched_by_another_process("v4")
    clock.now += 0.9
    with django_assert_num_queries(0):
        assert served_feature_version() == "v3"
    clock.now += 0.1
    with django_assert_num_queries(1):
        assert served_feature_version() == "v4"


def test_a_switch_by_another_process_takes_effect_within_a_second(settings):
    settings.CADML_FEATURE_VERSION = "v3"
    assert served_feature_version() == "v3"
    switched_by_another_process("v4")
    switched_at = time.monotonic()
    while served_feature_version() != "v4":
        assert time.monotonic() - switched_at <= 1.0 + 0.25, "still serving the old version after a second"
        time.sleep(0.02)
    assert time.monotonic() - switched_at <= 1.0 + 0.25
