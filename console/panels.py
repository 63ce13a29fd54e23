"""Turns the dashboard state (``console.selectors.dashboard_state``) into charts: one place that
decides what each chart shows, so that the SVG and its table are drawn from the same numbers."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from console.charts import (
    PALETTE,
    Chart,
    Span,
    line_chart,
    progress_chart,
    stacked_bar_chart,
    timeline_chart,
)


def degraded_history_chart(state: dict[str, Any], tz: tzinfo) -> Chart:
    lanes: dict[str, list[Span]] = {row["feature_version"]: [] for row in state["indexes"]}
    for spell in state["degraded_spells"]:
        lanes.setdefault(spell["feature_version"], []).append(
            Span(start=max(spell["start"], state["since"]), end=spell["end"], label=spell["reason"]))
    return timeline_chart(title=f"Degraded spells per feature version, last {state['history_days']} days",
                          rows=sorted(lanes.items()), start=state["since"], end=state["now"], tz=tz)


def cache_hit_ratio_chart(state: dict[str, Any], tz: tzinfo) -> Chart:
    return line_chart(title=f"Cache hit ratio over all processes, last {state['cache_history_hours']} hours "
                            f"(per {state['cache_bucket_minutes']} minutes)",
                      points=[(p["at"], p["hit_ratio"], p["lookups"], p["hits"]) for p in state["cache_hit_ratio"]],
                      tz=tz, value_name="hit ratio", extra_headers=("lookups", "hits"))


def prewarm_chart(state: dict[str, Any], tz: tzinfo) -> Chart:
    runs = state["prewarm_runs"]
    return stacked_bar_chart(
        title="Cache prewarm runs: entries loaded, skipped and failed",
        categories=[f"#{r['generation']} {r['created_at'].astimezone(tz):%m-%d %H:%M}" for r in runs],
        series=[("loaded", [r["loaded"] for r in runs]), ("skipped", [r["skipped"] for r in runs]),
                ("failed", [r["failed"] for r in runs])],
        colours=(PALETTE["ok"], PALETTE["muted"], PALETTE["bad"]), category_name="run")


def reload_outcomes_chart(state: dict[str, Any], tz: tzinfo) -> Chart:
    days = state["reload_outcomes"]
    return stacked_bar_chart(
        title=f"Model reload attempts per day, last {state['history_days']} days",
        categories=[f"{d['day']:%Y-%m-%d}" for d in days],
        series=[("success", [d["success"] for d in days]), ("refused", [d["refused"] for d in days])],
        colours=(PALETTE["ok"], PALETTE["bad"]), category_name="day")


def migration_chart(state: dict[str, Any], tz: tzinfo) -> Chart:
    rows = [(f"#{m['id']} {m['from_version']}→{m['to_version']}{' (dry run)' if m['dry_run'] else ''}",
             m["processed"], m["total"], m["status"]) for m in state["migrations"]]
    return progress_chart(title="Migration progress (latest runs)", rows=rows)


def dashboard_charts(state: dict[str, Any], tz: tzinfo) -> dict[str, Chart]:
    return {
        "degraded": degraded_history_chart(state, tz),
        "cache_hit_ratio": cache_hit_ratio_chart(state, tz),
        "prewarm": prewarm_chart(state, tz),
        "reloads": reload_outcomes_chart(state, tz),
        "migrations": migration_chart(state, tz),
    }
