"""The shared Redis tier (real local Redis): a second process hits what the first stored; a dead or
corrupt Redis is a miss, never an error."""

from __future__ import annotations

import os

import pytest
import redis
from prometheus_client import REGISTRY

from cachectl.health import cache_health_section
from cachectl.holder import holder
from cachectl.services import feature_cache_get, feature_cache_put
from cachectl.shared_tier import KEY_PREFIX, decode_entry
from tests.cachectl.conftest import make_sha

REDIS_URL = os.environ.get("CADML_TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/14")


def counters() -> tuple[float, float]:
    return (REGISTRY.get_sample_value("feature_cache_hits_total") or 0.0,
            REGISTRY.get_sample_value("feature_cache_misses_total") or 0.0)


@pytest.fixture
def shared_redis(settings):
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # the local Redis is part of the test environment
    settings.CADML_CACHE_REDIS_URL = REDIS_URL
    yield client
    for key in client.scan_iter(match=KEY_PREFIX + "*"):
        client.delete(key)
    client.close()


@pytest.mark.django_db
def test_entry_written_by_one_process_is_a_shared_hit_in_another(shared_redis):
    sha = make_sha("shared")
    feature_cache_put(sha256=sha, version="v3", values=[0.5, 1.5], document_id=42)
    assert shared_redis.ttl(f"{KEY_PREFIX}v3:{sha}") > 0
    holder.reset()  # another process: empty in-process tier
    hits0, misses0 = counters()
    assert feature_cache_get(sha256=sha, version="v3") == {"values": [0.5, 1.5], "document_id": 42}
    assert feature_cache_get(sha256=sha, version="v3") == {"values": [0.5, 1.5], "document_id": 42}
    hits, misses = counters()
    assert (hits - hits0, misses - misses0) == (2, 0)
    assert holder.shared_hits == 1  # the second one came from the in-process tier
    assert holder.cache().stats().hits == 1
    assert cache_health_section()["shared_tier"]["reachable"] is True


@pytest.mark.django_db
def test_corrupt_shared_entry_is_a_miss(shared_redis):
    sha = make_sha("corrupt")
    shared_redis.set(f"{KEY_PREFIX}v1:{sha}", b'{"values": ["x"], "document_id": 1}')
    hits0, misses0 = counters()
    assert feature_cache_get(sha256=sha, version="v1") is None
    assert counters() == (hits0, misses0 + 1)


@pytest.mark.django_db
def test_unreachable_redis_is_a_miss_and_degrades_health(settings):
    settings.CADML_CACHE_REDIS_URL = "redis://127.0.0.1:1/0"
    sha = make_sha("down")
    feature_cache_put(sha256=sha, version="v1", values=[1.0], document_id=None)  # no exception
    holder.reset()
    settings.CADML_CACHE_REDIS_URL = "redis://127.0.0.1:1/0"
    hits0, misses0 = counters()
    assert feature_cache_get(sha256=sha, version="v1") is None
    assert counters() == (hits0, misses0 + 1)
    section = cache_health_section()
    assert section["status"] == "degraded"
    assert section["shared_tier"]["reachable"] is False
    assert any("shared tier" in problem for problem in section["problems"])


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"[]", b'{"values": []}', b'{"values": [1e999]}',
                                 b'{"values": [1], "document_id": "7"}', b'{"values": [true]}'])
def test_decode_rejects_malformed_entries(raw):
    assert decode_entry(raw) is None


def test_decode_accepts_a_well_formed_entry():
    assert decode_entry(b'{"values": [1, 2.5], "document_id": 3}') == ((1.0, 2.5), 3)
