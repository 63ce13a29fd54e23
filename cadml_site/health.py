"""Health sections: each app contributes one, the health endpoint reports them all.

A section function returns a dict with ``status`` in ``ok | degraded | down`` plus whatever fields help an
operator. The overall status is the worst section's. A section that raises is reported ``down`` with the code
``section_failed`` (the exception is logged, never returned: health endpoints are open to anyone), never as a 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("cadml.health")

STATUS_ORDER = {"ok": 0, "degraded": 1, "down": 2}
HealthSection = Callable[[], dict]

_sections: dict[str, HealthSection] = {}
_lock = threading.Lock()


def register_health_section(name: str, section: HealthSection) -> None:
    with _lock:
        _sections[name] = section


def registered_sections() -> list[str]:
    with _lock:
        return list(_sections)


def health_report() -> dict:
    with _lock:
        sections = dict(_sections)
    report: dict[str, dict] = {}
    for name, section in sections.items():
        try:
            result = dict(section())
        except Exception:  # a broken section is a finding, not a crash
            # The exception's text can name hosts, ports and roles (a database driver's does): it goes to the
            # log only; the public answer carries a code.
            logger.exception("Health section %s failed", name)
            result = {"status": "down", "error": "section_failed"}
        if result.get("status") not in STATUS_ORDER:
            result["status"] = "down"
        report[name] = result
    overall = max((r["status"] for r in report.values()), key=STATUS_ORDER.__getitem__, default="ok")
    return {"status": overall, "sections": report}
