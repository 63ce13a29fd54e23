"""manage.py metrics_consistency_check on the real project, and its failure exit."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command


def test_the_project_is_consistent():
    out, err = StringIO(), StringIO()
    call_command("metrics_consistency_check", stdout=out, stderr=err)
    assert "metrics consistency check passed" in out.getvalue(), err.getvalue()
    assert err.getvalue() == ""


def test_a_rule_with_rate_on_a_gauge_and_an_unknown_metric_fails(tmp_path):
    rules = tmp_path / "broken.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [
        {"alert": "CadmlFaissDegradedModeActive", "expr": "rate(faiss_degraded_duration_seconds[5m]) > 0",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "s", "runbook_url": "docs/runbooks.md#cadmlfaissdegradedmodeactive"}},
        {"alert": "CadmlTypo", "expr": "sum(rate(feature_cache_hit_total[5m])) > 0",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "s", "runbook_url": "docs/runbooks.md#cadmlfaissrecoveryfailing"}},
    ]}]}))
    err = StringIO()
    with pytest.raises(CommandError, match="metrics consistency check failed"):
        call_command("metrics_consistency_check", "--rules", str(rules), stdout=StringIO(), stderr=err)
    problems = err.getvalue()
    assert "rate() applied to faiss_degraded_duration_seconds, a gauge" in problems
    assert "references feature_cache_hit_total, which no registered metric exports" in problems
    assert "recording rule instance:feature_cache_hit_ratio:ratio_rate5m" in problems  # dashboard contract


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        call_command("metrics_consistency_check", "--dashboards", str(tmp_path / "nope.json"))
