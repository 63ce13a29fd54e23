"""Strict readers for environment variables.

Only ``cadml_site/settings.py`` calls these. Each helper returns the default when the variable is unset (or empty)
and raises ``ImproperlyConfigured`` naming the variable when the value is malformed, so a bad deployment fails at
start-up with a clear message instead of misbehaving on the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_REQUIRED = object()


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _missing(name: str, default):
    if default is _REQUIRED:
        raise ImproperlyConfigured(f"{name} is required but not set")
    return default


def env_str(name: str, default=_REQUIRED, *, environ: Mapping[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    return _missing(name, default) if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0/yes/no/on/off), got {value!r}")


def _env_number(name, default, parse, *, what: str, min_value, max_value, environ):
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    try:
        number = parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    _check_range(name, number, min_value, max_value)
    return number


def env_int(
    name: str,
    default=_REQUIRED,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    return _env_number(name, default, lambda value: int(value, 10), what="an integer", min_value=min_value,
                       max_value=max_value, environ=environ)


def env_float(
    name: str,
    default=_REQUIRED,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    return _env_number(name, default, float, what="a number", min_value=min_value, max_value=max_value,
                       environ=environ)


def env_list(name: str, default: Sequence[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(f"{name} must be a comma-separated list without empty items, got {value!r}")
    return items


def env_choice(
    name: str, default: str, choices: Sequence[str], *, environ: Mapping[str, str] | None = None
) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_url(
    name: str, default, schemes: Sequence[str], *, environ: Mapping[str, str] | None = None
) -> str | None:
    value = _raw(name, environ)
    if value is None:
        return _missing(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must use one of the schemes {', '.join(schemes)}, got {value!r}")
    return value


def _check_range(name: str, number, min_value, max_value) -> None:
    if min_value is not None and number < min_value:
        raise ImproperlyConfigured(f"{name} must be >= {min_value}, got {number}")
    if max_value is not None and number > max_value:
        raise ImproperlyConfigured(f"{name} must be <= {max_value}, got {number}")


def env_time_zone(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """An IANA time zone name (``Europe/Paris``), checked against the zoneinfo database."""
    import zoneinfo

    value = _raw(name, environ)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone name such as Europe/Paris, got {value!r}") \
            from None
    return value
