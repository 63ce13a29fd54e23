"""The SVG charts of the ops dashboard (Django-free: no db)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from console.charts import (
    Span,
    line_chart,
    nice_ceiling,
    progress_chart,
    stacked_bar_chart,
    timeline_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    return root


def tooltips(root: ET.Element, tag: str) -> list[str]:
    return [el.find(f"{SVG}title").text for el in root.iter(f"{SVG}{tag}") if el.find(f"{SVG}title") is not None]


def test_timeline_draws_one_bar_per_spell_and_ongoing_spells_to_the_end():
    rows = [("v3", []), ("v4", [Span(T0, T0 + timedelta(hours=1), "faiss_error"),
                                Span(T0 + timedelta(hours=5), None, "drill")])]
    chart = timeline_chart(title="Degraded", rows=rows, start=T0 - timedelta(days=1), end=T0 + timedelta(hours=6),
                           tz=PARIS)
    root = parse(chart.svg)
    bars = [el for el in root.iter(f"{SVG}rect") if el.get("class") in ("ongoing", "closed")]
    assert [b.get("class") for b in bars] == ["closed", "ongoing"]
    assert float(bars[1].get("x")) + float(bars[1].get("width")) == 708.0  # up to the chart's end
    tips = tooltips(root, "rect")
    assert "v4: faiss_error from 2026-12-01 12:00:00 UTC to 2026-12-01 13:00:00 UTC, 3600 s" in tips
    assert chart.rows == [("v4", T0, T0 + timedelta(hours=1), 3600.0, "faiss_error"),
                          ("v4", T0 + timedelta(hours=5), "ongoing", 3600.0, "drill")]
    # lane labels, and axis labels in the operator's time zone (Paris is UTC+1 in December)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "v3" in texts and "v4" in texts
    # the last tick is the chart's end, T0 + 6 h = 18:00 UTC, shown as 19:00 in Paris
    assert "12-01 19:00" in texts and "12-01 18:00" not in texts


def test_timeline_ticks_are_in_the_given_time_zone():
    start, end = T0, T0 + timedelta(hours=2)
    utc_texts = [t.text for t in parse(timeline_chart(title="t", rows=[("v4", [])], start=start, end=end,
                                                      tz=UTC).svg).iter(f"{SVG}text")]
    paris_texts = [t.text for t in parse(timeline_chart(title="t", rows=[("v4", [])], start=start, end=end,
                                                        tz=PARIS).svg).iter(f"{SVG}text")]
    assert "12:00" in utc_texts and "14:00" in utc_texts
    assert "13:00" in paris_texts and "15:00" in paris_texts and "12:00" not in paris_texts


def test_empty_charts_are_valid_svg_saying_so():
    charts = [timeline_chart(title="t", rows=[], start=T0, end=T0 + timedelta(days=1), tz=UTC),
              line_chart(title="l", points=[], tz=UTC, value_name="hit ratio"),
              stacked_bar_chart(title="b", categories=[], series=[("a", [])]),
              progress_chart(title="p", rows=[])]
    for chart in charts:
        root = parse(chart.svg)
        assert chart.rows == []
        assert any(t.text and t.text.startswith("No ") for t in root.iter(f"{SVG}text"))


def test_line_chart_plots_each_value_and_skips_missing_ones():
    points = [(T0, 0.25), (T0 + timedelta(hours=1), None), (T0 + timedelta(hours=2), 0.75)]
    chart = line_chart(title="Hit ratio", points=points, tz=UTC, value_name="hit ratio")
    root = parse(chart.svg)
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 2
    # y axis: 0 at the bottom (top 12 + plot 140 = 152), 1 at the top (12)
    assert [float(c.get("cy")) for c in circles] == [152 - 140 * 0.25, 152 - 140 * 0.75]
    assert tooltips(root, "circle") == ["2026-12-01 12:00:00 UTC: hit ratio 25.0%",
                                        "2026-12-01 14:00:00 UTC: hit ratio 75.0%"]
    assert chart.rows == points
    assert root.find(f"{SVG}polyline") is not None


def test_stacked_bars_are_proportional_and_the_table_has_totals():
    chart = stacked_bar_chart(title="Prewarm", categories=["#1", "#2"], category_name="run",
                              series=[("loaded", [10, 30]), ("skipped", [0, 5]), ("failed", [2, 5])])
    root = parse(chart.svg)
    assert chart.headers == ("run", "loaded", "skipped", "failed", "total")
    assert chart.rows == [("#1", 10, 0, 2, 12), ("#2", 30, 5, 5, 40)]
    bars = {el.find(f"{SVG}title").text: float(el.get("height")) for el in root.iter(f"{SVG}rect")
            if el.find(f"{SVG}title") is not None}
    assert "#1: skipped 0" not in bars  # a zero segment is not drawn
    assert bars["#2: loaded 30"] == 3 * bars["#1: loaded 10"]
    # the axis ends at 40 (10 per step): the tallest bar (40) fills the 132 px plot
    assert sum(h for k, h in bars.items() if k.startswith("#2")) == 132.0
    assert [t.text for t in root.iter(f"{SVG}text")][3:8] == ["0", "10", "20", "30", "40"]


@pytest.mark.parametrize("value, top", [(0, 4), (3, 4), (4, 4), (5, 8), (9, 20), (40, 40), (41, 80), (0.3, 0.4),
                                        (1234, 2000)])
def test_axes_end_at_round_numbers(value, top):
    assert nice_ceiling(value) == pytest.approx(top)


def test_progress_chart_fills_to_the_processed_share():
    chart = progress_chart(title="Migrations", rows=[("#2 v3→v4", 50, 200, "running"),
                                                     ("#1 v3→v4", 0, 0, "completed")])
    root = parse(chart.svg)
    assert chart.rows == [("#2 v3→v4", "running", 50, 200, 25.0), ("#1 v3→v4", "completed", 0, 0, 100.0)]
    assert tooltips(root, "rect") == ["#2 v3→v4: 50 of 200 (25.0%), running", "#1 v3→v4: 0 of 0 (100.0%), completed"]


def test_text_is_escaped():
    chart = stacked_bar_chart(title="<b>&", categories=["<script>"], series=[("a&b", [1])])
    root = parse(chart.svg)
    assert root.find(f"{SVG}title").text == "<b>&"
    assert "<script>" not in chart.svg
