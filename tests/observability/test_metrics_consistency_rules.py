"""The consistency checks of tools.rules_lint.consistency on small synthetic inputs (Django-free)."""

import json

import pytest
import yaml

from tools.rules_lint.consistency import (
    CONTRACT,
    CONTRACT_RECORDINGS,
    COUNTER,
    GAUGE,
    HISTOGRAM,
    DeclaredMetric,
    check_consistency,
    markdown_anchors,
)


def contract_catalogue():
    """A catalogue that satisfies the contract exactly, with code names for the unused check."""
    declared = []
    for item in CONTRACT:
        name = item.series[: -len("_total")] if item.type == COUNTER else item.series
        declared.append(DeclaredMetric(name=name, type=item.type, labels=item.labels, origin="test",
                                       code_names=(name.upper(),)))
    return declared


def rule_file(tmp_path, rules, *, recordings=CONTRACT_RECORDINGS):
    record_rules = [{"record": name, "expr": "sum(rate(feature_cache_hits_total[5m]))"} for name in recordings]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": record_rules + rules}]}))
    return path


def alert(name, expr, **overrides):
    rule = {"alert": name, "expr": expr, "labels": {"severity": "warning"},
            "annotations": {"summary": "s", "runbook_url": f"docs/runbooks.md#{name.lower()}"}}
    rule.update(overrides)
    return rule


def dashboard_file(tmp_path, exprs, variables=()):
    path = tmp_path / "dash.json"
    path.write_text(json.dumps({
        "panels": [{"type": "row", "panels": [{"title": f"p{i}", "targets": [{"expr": e}]}
                                              for i, e in enumerate(exprs)]}],
        "templating": {"list": [{"type": "query", "name": "v", "query": {"query": q}} for q in variables]},
    }))
    return path


def every_contract_metric_exprs():
    exprs = []
    for item in CONTRACT:
        if item.type == HISTOGRAM:
            exprs.append(f"histogram_quantile(0.9, sum by (le) (rate({item.series}_bucket[5m])))")
        elif item.type == COUNTER:
            exprs.append(f"sum(rate({item.series}[5m]))")
        else:
            exprs.append(f"max({item.series})")
    return exprs


def run(tmp_path, *, declared=None, rules=(), exprs=None, variables=(), code=None, runbooks=None, **kw):
    declared = contract_catalogue() if declared is None else declared
    code = {"app.py": " ".join(n for m in declared for n in m.code_names)} if code is None else code
    runbooks = runbooks if runbooks is not None else "\n".join(f"## {r['alert']}" for r in rules if "alert" in r)
    return check_consistency(
        declared=declared,
        rule_files=[rule_file(tmp_path, list(rules), **kw)],
        dashboard_files=[dashboard_file(tmp_path, every_contract_metric_exprs() if exprs is None else exprs,
                                        variables)],
        code_texts=code,
        runbooks_text=runbooks,
    )


def test_a_consistent_project_passes(tmp_path):
    report = run(tmp_path, rules=[alert("DegradedTooLong", "max(faiss_degraded_duration_seconds) > 0")],
                 variables=['label_values(up{job="cadml"}, instance)'])
    assert report.problems == []
    assert report.ok


def test_missing_contract_metric(tmp_path):
    declared = [m for m in contract_catalogue() if m.name != "faiss_recovery_attempts"]
    exprs = [e for e in every_contract_metric_exprs() if "faiss_recovery_attempts" not in e]
    report = run(tmp_path, declared=declared, exprs=exprs)
    assert report.problems == ["contract metric faiss_recovery_attempts_total is not registered"]


def test_wrongly_typed_and_labelled_contract_metrics(tmp_path):
    declared = []
    for metric in contract_catalogue():
        if metric.name == "vector_migrate_dimension_delta":
            metric = DeclaredMetric(metric.name, HISTOGRAM, (), "test", metric.code_names)
        if metric.name == "vector_query_latency_seconds":
            metric = DeclaredMetric(metric.name, HISTOGRAM, ("backend", "version"), "test", metric.code_names)
        declared.append(metric)
    exprs = [e for e in every_contract_metric_exprs() if "vector_migrate_dimension_delta" not in e]
    exprs.append("histogram_quantile(0.5, sum by (le) (rate(vector_migrate_dimension_delta_bucket[5m])))")
    report = run(tmp_path, declared=declared, exprs=exprs)
    assert sorted(report.problems) == [
        "contract metric vector_migrate_dimension_delta is a histogram, expected a gauge",
        "contract metric vector_query_latency_seconds has labels ['backend', 'version'], expected ['backend']",
    ]


def test_counter_names_resolve_by_type_not_by_blind_suffix_stripping(tmp_path):
    declared = contract_catalogue() + [
        DeclaredMetric("django_http_responses_total_by_status", COUNTER, ("status",), "django_prometheus",
                       owned=False),
    ]
    ok = run(tmp_path, declared=declared,
             exprs=every_contract_metric_exprs() + ["sum(rate(django_http_responses_total_by_status_total[5m]))"])
    assert ok.problems == []
    wrong = run(tmp_path, declared=declared,
                exprs=every_contract_metric_exprs() + ["sum(rate(django_http_responses_total_by_status[5m]))"])
    assert wrong.problems == ["dash.json: panel 'p19': references django_http_responses_total_by_status, "
                              "which no registered metric exports"]


def test_unknown_metric_in_rules_and_dashboard(tmp_path):
    report = run(tmp_path, rules=[alert("Typo", "max(faiss_degraded_duration_second) > 0")],
                 exprs=every_contract_metric_exprs() + ["sum(rate(feature_cache_hit_total[5m]))"])
    assert len(report.problems) == 2
    assert "references faiss_degraded_duration_second," in report.problems[0]
    assert "references feature_cache_hit_total," in report.problems[1]


@pytest.mark.parametrize("expr, problem", [
    ("rate(faiss_degraded_duration_seconds[5m]) > 0", "rate() applied to faiss_degraded_duration_seconds, a gauge"),
    ("feature_cache_hits_total > 100", "counter series feature_cache_hits_total used without rate()/increase()"),
    ("histogram_quantile(0.9, rate(feature_cache_hits_total[5m])) > 1",
     "histogram_quantile() over feature_cache_hits_total, which is not a histogram bucket"),
    ("sum(rate(model_reload_duration_seconds_bucket[5m])) > 1",
     "model_reload_duration_seconds_bucket used outside histogram_quantile()"),
    ("model_reload_duration_seconds_count > 3", "counter series model_reload_duration_seconds_count used without"),
    ("deriv(feature_cache_misses_total[5m]) > 0",
     "gauge function applied to counter series feature_cache_misses_total"),
    ('sum(increase(faiss_recovery_attempts_total{reslt="error"}[5m])) > 0',
     "faiss_recovery_attempts_total has no label 'reslt'"),
])
def test_functions_must_fit_the_metric_type(tmp_path, expr, problem):
    report = run(tmp_path, rules=[alert("Bad", expr)])
    assert any(problem in p for p in report.problems), report.problems


def test_alert_metadata_and_runbook_anchor(tmp_path):
    rules = [
        alert("NoSeverity", "max(faiss_flap_suppression_active) > 0", labels={}),
        alert("NoSummary", "max(faiss_flap_suppression_active) > 0",
              annotations={"runbook_url": "docs/runbooks.md#nosummary"}),
        alert("NoSection", "max(faiss_flap_suppression_active) > 0"),
    ]
    report = run(tmp_path, rules=rules, runbooks="## NoSeverity\n## NoSummary\n")
    assert sorted(report.problems) == [
        "alert NoSection: docs/runbooks.md has no section for anchor #nosection",
        "alert NoSeverity: severity must be critical, warning or info",
        "alert NoSummary: no summary annotation",
    ]


def test_recording_rules_resolve_and_contract_recordings_are_required(tmp_path):
    report = run(tmp_path, rules=[alert("R", "instance:feature_cache_hit_ratio:ratio_rate5m < 0.7")],
                 recordings=CONTRACT_RECORDINGS[1:])
    assert report.problems == [f"recording rule {CONTRACT_RECORDINGS[0]} (used by the dashboard contract) is not "
                               "defined", "rules.yaml: g/R: references instance:feature_cache_hit_ratio:ratio_rate5m, "
                               "which no registered metric exports"]


def test_declared_metric_unused_by_rules_dashboard_or_code(tmp_path):
    declared = contract_catalogue() + [
        DeclaredMetric("orphan_seconds", GAUGE, (), "cadml_site.metrics", ("ORPHAN",)),
        DeclaredMetric("shown_but_dead_total_thing", GAUGE, (), "cadml_site.metrics", ("DEAD",)),
    ]
    code = {"app.py": " ".join(n for m in contract_catalogue() for n in m.code_names)}
    report = run(tmp_path, declared=declared, code=code,
                 exprs=every_contract_metric_exprs() + ["max(shown_but_dead_total_thing)"])
    assert sorted(report.problems) == [
        "declared metric orphan_seconds (cadml_site.metrics) is never updated or registered by any code",
        "declared metric orphan_seconds (cadml_site.metrics) is used by neither the rules nor the dashboard",
        "declared metric shown_but_dead_total_thing (cadml_site.metrics) is never updated or registered by any code",
    ]


def test_database_gauge_counts_as_used_when_its_source_is_registered(tmp_path):
    declared = contract_catalogue() + [DeclaredMetric("window_age_seconds", GAUGE, (), "database gauge")]
    code = {"app.py": " ".join(n for m in contract_catalogue() for n in m.code_names)
            + '\nregister_gauge_source("window_age_seconds", read_age)'}
    report = run(tmp_path, declared=declared, code=code,
                 exprs=every_contract_metric_exprs() + ["max(window_age_seconds)"])
    assert report.problems == []


def test_markdown_anchors_follow_github_slugs():
    assert markdown_anchors("# Runbooks\n## CadmlFaissDegradedModeActive\n### First checks: now!\n") == {
        "runbooks", "cadmlfaissdegradedmodeactive", "first-checks-now"}
