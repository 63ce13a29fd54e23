"""Periodic cache housekeeping (thin: each task calls one service)."""

from __future__ import annotations

from celery import shared_task

from cachectl import selectors
from cachectl.services import cache_key_activity_prune


@shared_task(name="cachectl.prune_key_activity")
def prune_key_activity() -> int:
    """Forget key activity older than the retention (prewarm's history stays recent and bounded)."""
    return cache_key_activity_prune()


@shared_task(name="cachectl.process_cache_state")
def process_cache_state() -> dict:
    """The cache of the worker process that runs this task, as its lookups see it now (settings generation,
    capacity, TTL, policy, statistics): lets ops check that Celery workers converged."""
    return selectors.cache_process_stats()
