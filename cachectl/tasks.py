"""Periodic cache housekeeping (thin: each task calls one service)."""

from __future__ import annotations

from celery import shared_task

from cachectl.services import cache_recent_hits_prune


@shared_task(name="cachectl.prune_recent_hits")
def prune_recent_hits() -> int:
    """Forget recent-hit rows older than the retention (prewarm's first tier stays recent and bounded)."""
    return cache_recent_hits_prune()
