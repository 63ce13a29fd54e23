"""Periodic cache housekeeping (thin: each task calls one service).

The beat tasks' results are not kept (``ignore_result``): nobody reads them, and with the rpc result backend each
would wait unread in celery beat's reply queue. ``process_cache_state`` keeps its result: ops ask a worker for it."""

from __future__ import annotations

from celery import shared_task

from cachectl import selectors
from cachectl.services import cache_key_activity_prune, cache_stats_sample_take, cache_stats_samples_prune


@shared_task(name="cachectl.prune_key_activity", ignore_result=True)
def prune_key_activity() -> int:
    """Forget key activity older than the retention (prewarm's history stays recent and bounded)."""
    return cache_key_activity_prune()


@shared_task(name="cachectl.process_cache_state")
def process_cache_state() -> dict:
    """The cache of the worker process that runs this task, as its lookups see it now (settings generation,
    capacity, TTL, policy, statistics): lets ops check that Celery workers converged."""
    return selectors.cache_process_stats()


@shared_task(name="cachectl.sample_cache_stats", ignore_result=True)
def sample_cache_stats() -> int:
    """Every minute: the lookups and hits of every process since the previous sample (the hit-ratio history)."""
    return cache_stats_sample_take().pk


@shared_task(name="cachectl.prune_cache_stats_samples", ignore_result=True)
def prune_cache_stats_samples() -> int:
    """Forget samples older than ``CADML_CACHE_STATS_RETENTION_DAYS``."""
    return cache_stats_samples_prune()
