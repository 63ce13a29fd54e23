"""The foundation's health sections: database, broker (when configured) and build."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection

from cadml_site.health import register_health_section

logger = logging.getLogger("cadml.health")


def database_section() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # the driver's text names host, port and role: the log keeps it, the open health answer gets a code
        logger.warning("Health: the database is unreachable: %s: %s", type(exc).__name__, exc)
        return {"status": "down", "vendor": connection.vendor, "error": "database_unreachable"}
    return {"status": "ok", "vendor": connection.vendor,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def broker_section() -> dict:
    from cadml_site.celery import app

    started = time.perf_counter()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        logger.warning("Health: the Celery broker is unreachable: %s: %s", type(exc).__name__, exc)
        return {"status": "down", "mode": "broker", "error": "broker_unreachable"}
    return {"status": "ok", "mode": "broker", "transport": str(transport),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def eager_section() -> dict:
    return {"status": "ok", "mode": "in-process", "detail": "No CELERY_BROKER_URL: tasks run in the web process."}


def build_section() -> dict:
    return {"status": "ok", "version": settings.CADML_BUILD_VERSION, "commit": settings.CADML_BUILD_COMMIT or None}


def register() -> None:
    register_health_section("database", database_section)
    register_health_section("broker", broker_section if settings.CELERY_BROKER_URL else eager_section)
    register_health_section("build", build_section)
