"""Metric selectors found in PromQL by tools.rules_lint.promql (Django-free)."""

import pytest

from tools.rules_lint.promql import PromqlSyntaxError, metric_references


def names(expr):
    return [ref.name for ref in metric_references(expr)]


def test_histogram_quantile_over_rate_of_buckets():
    (ref,) = metric_references(
        "histogram_quantile(0.95, sum by (instance, version, le) (rate(feature_extraction_latency_seconds_bucket[5m])))"
    )
    assert ref.name == "feature_extraction_latency_seconds_bucket"
    assert ref.functions == ("rate", "sum", "histogram_quantile")
    assert ref.range_vector is True


def test_grouping_label_lists_and_keywords_are_not_metrics():
    expr = ('sum by (job) (increase(a_total{result="error"}[15m])) >= 2 unless on (job) '
            'sum without (instance) (increase(a_total{result="success"}[15m])) > bool 0')
    refs = metric_references(expr)
    assert [r.name for r in refs] == ["a_total", "a_total"]
    assert all(r.label_names == ("result",) for r in refs)


def test_postfix_grouping_group_left_and_offset():
    expr = "sum(rate(x_total[5m])) by (le) / ignoring(version) group_left(instance) y offset 5m"
    assert names(expr) == ["x_total", "y"]
    assert metric_references(expr)[1].functions == ()


def test_label_values_inside_strings_are_not_metrics():
    expr = 'max(g{instance=~"$instance", reason="sum(rate(fake_total[5m]))"}) > 0'
    refs = metric_references(expr)
    assert [r.name for r in refs] == ["g"]
    assert refs[0].label_names == ("instance", "reason")


def test_grafana_interval_variables():
    (ref,) = metric_references("sum by (event) (increase(similarity_degraded_total[$__rate_interval]))")
    assert ref.name == "similarity_degraded_total" and ref.range_vector


def test_name_matcher_selector_and_synthetic_series():
    assert names('{__name__="up", job="cadml"}') == ["up"]
    assert names('count(ALERTS{alertstate="pending"}) or vector(0)') == ["ALERTS"]


def test_recording_rule_names_with_colons():
    assert names('version:feature_extraction_latency_seconds:p95_5m{version="v4"} > 0.010') == [
        "version:feature_extraction_latency_seconds:p95_5m"
    ]


@pytest.mark.parametrize("expr", ["sum(rate(x[5m])", "rate(x[5m]))", "x{a=}", "x ~ y"])
def test_malformed_expressions_raise(expr):
    with pytest.raises(PromqlSyntaxError):
        metric_references(expr)
