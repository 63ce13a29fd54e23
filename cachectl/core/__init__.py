"""The in-process feature cache core (Django-free): one module per concern.

* ``policy``: the eviction policies (W-TinyLFU, LRU), the configuration check, segment sizes, the frequency
  sketch;
* ``statistics``: exact totals, the sliding hour, per-key activity;
* ``feature_cache``: ``FeatureCache``, the entries, their segments, expiry and eviction.
"""

from cachectl.core.feature_cache import FeatureCache
from cachectl.core.policy import POLICIES, POLICY_LRU, POLICY_TINYLFU, CacheConfigError, FrequencySketch
from cachectl.core.statistics import ACTIVITY_LIMIT, HOUR_SECONDS, CacheStats

__all__ = [
    "ACTIVITY_LIMIT",
    "HOUR_SECONDS",
    "POLICIES",
    "POLICY_LRU",
    "POLICY_TINYLFU",
    "CacheConfigError",
    "CacheStats",
    "FeatureCache",
    "FrequencySketch",
]
