"""A moment as the operator reads it: ``<time>`` in the current (operator's) time zone, the UTC value on hover.

The one formatting of a date-time for people: the dashboard's ``ops_time`` filter and every admin column and
read-only field (``cadml_site.admin_base.OperatorTimeAdmin``) use it."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString


def operator_time(moment: datetime) -> SafeString:
    """``<time datetime="...Z" title="... UTC">local time</time>``; a naive value is taken as UTC."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    utc = moment.astimezone(UTC)
    return format_html('<time datetime="{}" title="{}">{}</time>', utc.isoformat().replace("+00:00", "Z"),
                       utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
                       timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z"))
