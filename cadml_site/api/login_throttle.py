"""Admin login brute-force protection around django-axes (settings: "admin login throttling").

axes records every failed ``/admin/login/`` attempt and locks a username or a client address once either reaches
``CADML_ADMIN_LOGIN_FAILURE_LIMIT`` failures. This module gives axes the client address (behind
``CADML_ADMIN_LOGIN_PROXY_COUNT`` trusted proxies), logs every failure without the password and counts failures and
lockouts in Prometheus (``admin_login_failures_total``, ``admin_login_lockouts_total``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed

from cadml_site.metrics import ADMIN_LOGIN_FAILURES_TOTAL, ADMIN_LOGIN_LOCKOUTS_TOTAL

logger = logging.getLogger("cadml.security")

_MAX_LOGGED_USERNAME = 150


def client_address(request) -> str | None:
    """The client address axes throttles: ``REMOTE_ADDR``, or, behind N trusted proxies that each append to
    ``X-Forwarded-For``, the address the outermost of them saw (the N-th entry from the right)."""
    proxies = settings.CADML_ADMIN_LOGIN_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _username(credentials: dict) -> str:
    name = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or ""
    return str(name)[:_MAX_LOGGED_USERNAME]


def on_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    ADMIN_LOGIN_FAILURES_TOTAL.inc()
    address = client_address(request) if request is not None else None
    logger.warning("admin login failed: username=%r address=%s", _username(credentials), address or "unknown")


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    ADMIN_LOGIN_LOCKOUTS_TOTAL.inc()
    logger.warning("admin login locked out: username=%r address=%s (unlock: manage.py axes_reset_username / "
                   "axes_reset_ip)", str(username or "")[:_MAX_LOGGED_USERNAME], ip_address or "unknown")


def connect_signals() -> None:
    from axes.signals import user_locked_out

    user_login_failed.connect(on_login_failed, dispatch_uid="cadml.admin_login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="cadml.admin_login_locked_out")
