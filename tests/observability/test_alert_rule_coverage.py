"""Every alert of the shipped rules has a promtool case where it fires and one where it stays quiet."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "prometheus" / "rules" / "cad_ml_phase5_alerts.yaml"
TESTS = ROOT / "prometheus" / "tests" / "cad_ml_phase5_alerts_test.yaml"


def test_every_alert_is_tested_firing_and_quiet():
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"] if "alert" in rule}
    cases = [case for test in yaml.safe_load(TESTS.read_text())["tests"] for case in test.get("alert_rule_test", [])]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert alerts - fires == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"
    assert (fires | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_the_test_file_loads_the_shipped_rules():
    document = yaml.safe_load(TESTS.read_text())
    assert [(TESTS.parent / path).resolve() for path in document["rule_files"]] == [RULES.resolve()]


def test_degraded_alert_keeps_its_two_minute_for():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = {rule.get("alert"): rule for group in groups for rule in group["rules"]}
    assert rules["CadmlFaissDegradedModeActive"]["for"] == "2m"
