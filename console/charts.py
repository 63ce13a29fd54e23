"""Server-side SVG charts for the ops dashboard: plain Python, no Django, no JavaScript, no internet.

Every chart function returns a :class:`Chart`: the SVG markup and the same data as a table (``headers`` and
``rows``), so that each chart can also be read as numbers. Times are drawn in the time zone passed as ``tz`` (the
operator's); every mark carries a ``<title>`` (a tooltip) naming its values, with times in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 720
FONT = "font-family:sans-serif;font-size:11px"
PALETTE = {"ok": "#3a7d44", "bad": "#ba2121", "warn": "#d98f00", "info": "#417690", "muted": "#999999"}
SERIES_COLOURS = ("#417690", "#3a7d44", "#d98f00", "#ba2121", "#7b4f9d", "#999999")


@dataclass(frozen=True)
class Chart:
    """One chart: ``svg`` (markup of a standalone ``<svg>`` element) and its table (``headers``, ``rows``)."""

    title: str
    svg: str
    headers: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Span:
    """An interval on a timeline; ``end`` None means still going on (drawn up to the chart's end)."""

    start: datetime
    end: datetime | None
    label: str = ""


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _local(moment: datetime, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(tz).strftime(fmt)


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


class _Svg:
    """A tiny SVG writer: every text and attribute value is escaped."""

    def __init__(self, title: str, width: int, height: int):
        self.width, self.height = width, height
        self.parts = [f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                      f'role="img" aria-label={quoteattr(title)} style="{FONT}">',
                      f"<title>{escape(title)}</title>"]

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tooltip: str = "", css: str = "") -> None:
        body = f"<title>{escape(tooltip)}</title>" if tooltip else ""
        cls = f" class={quoteattr(css)}" if css else ""
        self.parts.append(f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" '
                          f'fill="{fill}"{cls}>{body}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#cccccc", dash: bool = False) -> None:
        extra = ' stroke-dasharray="3,3"' if dash else ""
        self.parts.append(f'<line x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" stroke="{stroke}"{extra}/>')

    def text(self, x: float, y: float, content: str, anchor: str = "start", fill: str = "#333333") -> None:
        self.parts.append(f'<text x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" fill="{fill}">'
                          f"{escape(content)}</text>")

    def circle(self, x: float, y: float, fill: str, tooltip: str) -> None:
        self.parts.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3.5" fill="{fill}">'
                          f"<title>{escape(tooltip)}</title></circle>")

    def polyline(self, points: Sequence[tuple[float, float]], stroke: str) -> None:
        coords = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
        self.parts.append(f'<polyline points="{coords}" fill="none" stroke="{stroke}" stroke-width="2"/>')

    def empty(self, message: str = "No data yet") -> None:
        self.text(self.width / 2, self.height / 2, message, anchor="middle", fill=PALETTE["muted"])

    def markup(self) -> str:
        return "".join(self.parts) + "</svg>"


def _time_ticks(start: datetime, end: datetime, tz: tzinfo, count: int = 6) -> list[tuple[float, str]]:
    """``count`` evenly spaced (fraction, label) ticks between start and end, labelled in ``tz``."""
    span = (end - start).total_seconds()
    if span <= 0:
        return [(0.0, _local(start, tz))]
    fmt = "%m-%d %H:%M" if span > 86400 else "%H:%M"
    return [(i / (count - 1), _local(start + (end - start) * (i / (count - 1)), tz, fmt)) for i in range(count)]


def timeline_chart(*, title: str, rows: Sequence[tuple[str, Sequence[Span]]], start: datetime, end: datetime,
                   tz: tzinfo) -> Chart:
    """One lane per row label; each span a bar from its start to its end (or to ``end`` while ongoing)."""
    left, right, lane, top = 60, 12, 26, 10
    height = top + max(len(rows), 1) * lane + 30
    svg = _Svg(title, WIDTH, height)
    plot_w = WIDTH - left - right
    span_s = max((end - start).total_seconds(), 1.0)
    table: list[tuple] = []

    def x_of(moment: datetime) -> float:
        fraction = min(max((moment - start).total_seconds() / span_s, 0.0), 1.0)
        return left + fraction * plot_w

    for fraction, label in _time_ticks(start, end, tz):
        x = left + fraction * plot_w
        svg.line(x, top, x, height - 24, dash=True)
        svg.text(x, height - 10, label, anchor="middle")
    for index, (name, spans) in enumerate(rows):
        y = top + index * lane
        svg.text(left - 6, y + lane / 2 + 4, name, anchor="end")
        svg.rect(left, y + 4, plot_w, lane - 8, "#eef5ee")
        for span in spans:
            shown_end = span.end or end
            seconds = (shown_end - span.start).total_seconds()
            ongoing = span.end is None
            tip = (f"{name}: {span.label or 'degraded'} from {_utc(span.start)} "
                   f"to {'now (ongoing)' if ongoing else _utc(span.end)}, {seconds:.0f} s")
            x0 = x_of(span.start)
            svg.rect(x0, y + 4, max(x_of(shown_end) - x0, 2.0), lane - 8,
                     PALETTE["bad"] if ongoing else PALETTE["warn"], tip, "ongoing" if ongoing else "closed")
            table.append((name, span.start, span.end or "ongoing", round(seconds, 1), span.label))
    if not rows:
        svg.empty("No degraded spell in this period")
    return Chart(title, svg.markup(), ("version", "start", "end", "duration (s)", "reason"), table)


def line_chart(*, title: str, points: Sequence[tuple], tz: tzinfo, value_name: str, y_max: float = 1.0,
               percent: bool = True, extra_headers: tuple[str, ...] = ()) -> Chart:
    """Values over time: ``(moment, value, *extra)`` per point (value None: not drawn); y from 0 to ``y_max``.
    The table has a column per ``extra_headers`` for the extra values of each point."""
    left, right, top, bottom = 48, 16, 12, 28
    height = 180
    svg = _Svg(title, WIDTH, height)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    for i in range(5):
        value = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        svg.line(left, y, WIDTH - right, y)
        svg.text(left - 6, y + 4, f"{value * 100:.0f}%" if percent else _number(value), anchor="end")
    drawn = [(point[0], point[1]) for point in points if point[1] is not None]
    table = [tuple(point) for point in points]
    headers = ("time", value_name, *extra_headers)
    if not drawn:
        svg.empty()
        return Chart(title, svg.markup(), headers, table)
    start, end = min(t for t, _ in drawn), max(t for t, _ in drawn)
    span_s = (end - start).total_seconds()
    coords = []
    for moment, value in sorted(drawn, key=lambda p: p[0]):
        x = left + (plot_w * (moment - start).total_seconds() / span_s if span_s else plot_w / 2)
        y = top + plot_h - plot_h * min(max(value / y_max, 0.0), 1.0)
        coords.append((x, y, moment, value))
    svg.polyline([(x, y) for x, y, _, _ in coords], PALETTE["info"])
    for x, y, moment, value in coords:
        shown = f"{value * 100:.1f}%" if percent else _number(value)
        svg.circle(x, y, PALETTE["info"], f"{_utc(moment)}: {value_name} {shown}")
    for fraction, label in (_time_ticks(start, end, tz, count=4) if span_s else [(0.5, _local(start, tz))]):
        svg.text(left + fraction * plot_w, height - 8, label, anchor="middle")
    return Chart(title, svg.markup(), headers, table)


def nice_ceiling(value: float, intervals: int = 4) -> float:
    """The smallest top of an axis of ``intervals`` equal steps of 1, 2 or 5 x 10^n reaching ``value``."""
    if value <= 0:
        return float(intervals)
    raw = value / intervals
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step * intervals


def stacked_bar_chart(*, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                      colours: Sequence[str] = SERIES_COLOURS, category_name: str = "") -> Chart:
    """One bar per category, stacked by series; a legend names the series; the axis ends at a round number."""
    left, right, top, bottom = 48, 16, 28, 40
    height = 200
    svg = _Svg(title, WIDTH, height)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    totals = [sum(values[i] for _, values in series) for i in range(len(categories))]
    peak = nice_ceiling(max(totals, default=0))
    for index, (name, _) in enumerate(series):
        svg.rect(left + index * 120, 6, 10, 10, colours[index % len(colours)])
        svg.text(left + index * 120 + 14, 15, name)
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        svg.line(left, y, WIDTH - right, y)
        svg.text(left - 6, y + 4, _number(round(peak * i / 4, 1)), anchor="end")
    table = [(category, *(values[i] for _, values in series), totals[i]) for i, category in enumerate(categories)]
    if not categories:
        svg.empty()
    slot = plot_w / max(len(categories), 1)
    bar_w = max(min(slot * 0.7, 60), 2)
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for index, (name, values) in enumerate(series):
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                svg.rect(x, y, bar_w, h, colours[index % len(colours)], f"{category}: {name} {_number(values[i])}")
        if len(categories) <= 16 or i % max(len(categories) // 8, 1) == 0:
            svg.text(x + bar_w / 2, height - bottom + 14, category, anchor="middle")
    return Chart(title, svg.markup(), (category_name, *(name for name, _ in series), "total"), table)


def progress_chart(*, title: str, rows: Sequence[tuple[str, int, int, str]]) -> Chart:
    """One bar per row: ``(label, done, total, status)``, filled to done/total."""
    left, right, lane, top = 190, 60, 24, 6
    height = top + max(len(rows), 1) * lane + 6
    svg = _Svg(title, WIDTH, height)
    plot_w = WIDTH - left - right
    table = []
    colour = {"completed": PALETTE["ok"], "failed": PALETTE["bad"], "interrupted": PALETTE["warn"]}
    for index, (label, done, total, status) in enumerate(rows):
        y = top + index * lane
        fraction = done / total if total else (1.0 if status in ("completed", "dry_run") else 0.0)
        percent = round(100 * fraction, 1)
        svg.text(left - 6, y + 15, label, anchor="end")
        svg.rect(left, y + 4, plot_w, lane - 8, "#eeeeee")
        svg.rect(left, y + 4, plot_w * min(fraction, 1.0), lane - 8, colour.get(status, PALETTE["info"]),
                 f"{label}: {done} of {total} ({percent}%), {status}")
        svg.text(WIDTH - right + 6, y + 15, f"{percent}%")
        table.append((label, status, done, total, percent))
    if not rows:
        svg.empty("No migration has run")
    return Chart(title, svg.markup(), ("run", "status", "processed", "total", "%"), table)
