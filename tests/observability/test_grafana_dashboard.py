"""grafana/dashboards/observability.json is a valid, laid-out dashboard with the panels issue 7 asks for."""

import json
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "observability.json"


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def test_identity_and_schema(dashboard):
    assert dashboard["uid"] == "cadml-observability"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["title"]
    ids = [panel["id"] for panel in all_panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))


def test_grid_layout_fits_24_columns_without_overlap(dashboard):
    occupied = {}
    for panel in all_panels(dashboard["panels"]):
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"}, panel["title"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps {occupied.get((x, y))}"
                occupied[(x, y)] = panel["title"]


def test_instance_variable_filters_every_query(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    instance = variables["instance"]
    assert instance["type"] == "query"
    assert "label_values(" in instance["query"]["query"] and "instance" in instance["query"]["query"]
    assert instance["includeAll"] is True and instance["allValue"] == ".*"
    for panel in all_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            if "ALERTS" in target["expr"]:
                continue  # alert state series carry the alert's labels, not the scrape target's
            assert 'instance=~"$instance"' in target["expr"], (panel["title"], target["expr"])


@pytest.mark.parametrize("metric", [
    "feature_extraction_latency_seconds",  # extraction latency by version
    "vector_query_latency_seconds",  # query latency by backend
    "vector_query_batch_latency_seconds",  # batch latency
    "faiss_degraded_duration_seconds",  # degraded state and duration
    "faiss_recovery_attempts_total",  # recovery attempts
    "vector_migrate_total",  # migration outcomes
    "model_opcode_audit_total",  # opcode audit
    "model_opcode_whitelist_violations_total",  # violations
    "model_reload_total",  # reloads
    "feature_cache_hit_ratio",  # cache hit ratio
    "feature_cache_prewarm_total",  # prewarm
    "django_http_responses",  # HTTP traffic
])
def test_issue_panels_are_present(dashboard, metric):
    exprs = [t["expr"] for p in all_panels(dashboard["panels"]) for t in p.get("targets", [])]
    assert any(metric in expr for expr in exprs), metric
