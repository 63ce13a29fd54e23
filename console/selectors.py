"""Reads for the ops dashboard (the admin index): the state of the system at a glance.

Everything is read through the apps' own selectors and the registered health sections where they exist; the
histories behind the charts (degraded spells, cache statistics samples and prewarm runs, model reload attempts, migration
runs) and the audit trail are read-only queries over the apps' tables. Nothing here writes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from cachectl import selectors as cache_selectors
from cachectl.models import CachePrewarmRun
from cadml_site.health import health_report
from cadml_site.models import AuditRecord
from modelops import selectors as model_selectors
from modelops.models import ModelReloadAttempt
from vectors import selectors as vector_selectors
from vectors.models import MigrationRun

logger = logging.getLogger("cadml.dashboard")

HISTORY_DAYS = 7
AUDIT_EVENTS = 15
CACHE_HISTORY = timedelta(hours=24)
CACHE_BUCKET = timedelta(minutes=15)
PREWARM_RUNS = 20
MIGRATION_RUNS = 10
WORKER_PING_TIMEOUT_SECONDS = 1.0


def _index_rows(now: datetime, served: str) -> list[dict[str, Any]]:
    rows = []
    for status in vector_selectors.index_status():
        wait = status["next_attempt_in_seconds"]
        rows.append({
            "feature_version": status["feature_version"],
            "mode": status["mode"],
            "healthy": not status["degraded"],
            "degraded_since": status["degraded_since"],
            "reason": status["reason"],
            "next_attempt_at": now + timedelta(seconds=wait) if wait is not None else None,
            "suppression_left_seconds": status["suppression_left_seconds"],
            "recovery_failures": status["recovery_failures"],
            "size": status["size"],
            "generation": status["generation"],
            "served": status["feature_version"] == served,
            "last_error": status["last_error"],
        })
    return rows


def _model_state() -> dict[str, Any]:
    status = model_selectors.model_status()
    attempts = model_selectors.model_reload_attempts(limit=1)
    last = attempts[0] if attempts else None
    return {
        "active": status["active"],
        "load_sequence": status["load_sequence"],
        "mode": status["mode"],
        "previous": [v["label"] for v in status["previous"]],
        "last_error": status["last_error"],
        "process": status["process"],
        "last_attempt": None if last is None else {
            "at": last.created_at, "action": last.action, "outcome": last.outcome, "code": last.code,
            "stage": last.stage, "message": last.message, "actor": last.actor,
            "version": last.version.label if last.version_id else "",
        },
    }


def _cache_state() -> dict[str, Any]:
    status = cache_selectors.cache_status()
    stats = status["stats"]
    return {
        "settings": status["settings"],
        "hit_ratio": stats["hit_ratio"],
        "hour_hit_ratio": stats["hour_hit_ratio"],
        "size": stats["size"],
        "shared_tier": stats["shared_tier"],
        "rollback_window": status["rollback_window"],
        "rollback_window_seconds": status["rollback_window_seconds"],
    }


def celery_workers(broker: dict, *, app=None) -> dict[str, Any]:
    """Which Celery workers answer a ping (only with a real, reachable broker; ``app``: the project's)."""
    if not settings.CELERY_BROKER_URL:
        return {"status": "ok", "mode": "in-process", "workers": [],
                "detail": "No CELERY_BROKER_URL: tasks run in the web process."}
    if broker.get("status") != "ok":
        return {"status": "down", "mode": "broker", "workers": [], "detail": "broker unreachable"}
    if app is None:
        from cadml_site.celery import app

    try:
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT_SECONDS) or []
    except Exception as exc:  # an unreachable worker pool is a finding for the page, not a crash
        logger.warning("Celery ping failed: %s", exc)
        return {"status": "down", "mode": "broker", "workers": [], "detail": f"{type(exc).__name__}: {exc}"}
    workers = sorted(name for reply in replies for name in reply)
    return {"status": "ok" if workers else "down", "mode": "broker", "workers": workers,
            "detail": f"{len(workers)} worker(s) answered" if workers else "no worker answered the ping"}


def _audit_models() -> list[type[AuditRecord]]:
    return [m for m in apps.get_models() if issubclass(m, AuditRecord)]


def _admin_change_url(model, pk) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return None


def recent_audit_events(*, limit: int = AUDIT_EVENTS, user=None) -> list[dict[str, Any]]:
    """The newest ``limit`` rows over every audit table (every concrete ``AuditRecord``) that ``user`` may view
    (every table when None), newest first."""
    events = []
    for model in _audit_models():
        if user is not None and not user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            continue
        for row in model.objects.order_by("-created_at", "-id")[:limit]:
            events.append({"at": row.created_at, "table": str(model._meta.verbose_name), "actor": row.actor,
                           "action": row.action, "reason": row.reason, "request_id": row.request_id,
                           "url": _admin_change_url(model, row.pk)})
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:limit]


def _reload_outcomes_by_day(*, since: datetime, now: datetime) -> list[dict[str, Any]]:
    tz = timezone.get_current_timezone()
    first = since.astimezone(tz).date()
    days = [first + timedelta(days=i) for i in range((now.astimezone(tz).date() - first).days + 1)]
    counts = {day: {"success": 0, "refused": 0} for day in days}
    for at, outcome in ModelReloadAttempt.objects.filter(created_at__gte=since).values_list("created_at", "outcome"):
        day = at.astimezone(tz).date()
        if day in counts and outcome in counts[day]:
            counts[day][outcome] += 1
    return [{"day": day, **counts[day]} for day in days]


def dashboard_state(*, now: datetime | None = None, user=None) -> dict[str, Any]:
    """The whole dashboard: current state per section, histories for the charts, and the audit trail of the
    tables ``user`` may view."""
    now = now or timezone.now()
    since = now - timedelta(days=HISTORY_DAYS)
    health = health_report()
    sections = health["sections"]
    served = vector_selectors.served_feature_version()
    cache = _cache_state()
    broker = sections.get("broker", {"status": "down", "error": "no broker section registered"})
    return {
        "now": now,
        "since": since,
        "history_days": HISTORY_DAYS,
        "overall": health["status"],
        "sections": {name: section["status"] for name, section in sections.items()},
        "served_version": served,
        "indexes": _index_rows(now, served),
        "model": _model_state(),
        "model_health": sections.get("model"),
        "cache": cache,
        "parse_pool": sections.get("parser_pool"),
        "database": sections.get("database"),
        "broker": broker,
        "celery": celery_workers(broker),
        "audit": recent_audit_events(user=user),
        "degraded_spells": vector_selectors.degraded_spells(since=since),
        "cache_history_hours": int(CACHE_HISTORY.total_seconds() // 3600),
        "cache_bucket_minutes": int(CACHE_BUCKET.total_seconds() // 60),
        # the per-minute samples of every process (beat task cachectl.sample_cache_stats), per bucket
        "cache_hit_ratio": cache_selectors.cache_hit_ratio_history(since=now - CACHE_HISTORY, bucket=CACHE_BUCKET),
        "prewarm_runs": list(CachePrewarmRun.objects.order_by("-generation")
                             .values("generation", "created_at", "loaded", "skipped", "failed")[:PREWARM_RUNS])[::-1],
        "reload_outcomes": _reload_outcomes_by_day(since=since, now=now),
        "migrations": list(MigrationRun.objects.order_by("-created_at", "-id")
                           .values("id", "from_version", "to_version", "dry_run", "status", "processed", "total",
                                   "created_at")[:MIGRATION_RUNS]),
    }
