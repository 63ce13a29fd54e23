"""The ``cache`` health section and the database-backed gauges of the rollback window."""

from __future__ import annotations

from django.conf import settings

from cachectl import selectors
from cachectl.holder import holder


def cache_health_section() -> dict:
    """``degraded`` when the shared tier is configured but unreachable, the settings cannot be read, or a
    rollback window is past its deadline without a confirm; otherwise ``ok``."""
    stats = selectors.cache_process_stats()
    window = selectors.cache_rollback_window()
    problems = []
    if stats["shared_tier"].get("configured") and not stats["shared_tier"].get("reachable"):
        problems.append("shared tier unreachable")
    if holder.last_sync_error:
        # the exception's text (database host, port, role) stays in the log, never in a public answer
        problems.append("settings unreadable (database error; details in the log)")
    if window is not None and window["expired"]:
        problems.append(f"rollback window of change {window['change_id']} expired unconfirmed")
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "policy": stats["policy"],
        "capacity": stats["capacity"],
        "ttl_seconds": stats["ttl_seconds"],
        "size": stats["size"],
        "hit_ratio": stats["hit_ratio"],
        "hour_hit_ratio": stats["hour_hit_ratio"],
        "settings_generation": stats["settings_generation"],
        "shared_tier": stats["shared_tier"],
        "rollback_window": None if window is None else {
            "change_id": window["change_id"], "deadline": window["deadline"].isoformat(),
            "seconds_left": window["seconds_left"], "expired": window["expired"],
        },
    }


def rollback_window_age_source():
    return [({}, selectors.cache_rollback_window_age_seconds())]


def rollback_window_limit_source():
    return [({}, float(settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS))]
