"""``{{ value|ops_time }}``: a time in the operator's time zone, with the UTC value on hover."""

from __future__ import annotations

from datetime import date, datetime

from django import template

from cadml_site.operator_time import operator_time

register = template.Library()


@register.filter
def ops_time(value):
    """A datetime as ``<time>`` in the current (operator's) time zone, its ``title`` the UTC value; a date as
    is; a float to 4 decimals; None as a dash; anything else as text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return operator_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return value


@register.filter
def seconds(value):
    """A duration in seconds as ``1h 02m 03s`` (None as a dash)."""
    if value is None:
        return "—"
    total = int(round(float(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@register.filter
def percent(value):
    return "—" if value is None else f"{100 * float(value):.1f}%"
