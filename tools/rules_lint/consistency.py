"""Checks that the metrics contract, the alert rules and the dashboard agree with the declared metrics.

Django-free: ``manage.py metrics_consistency_check`` builds the catalogue of declared metrics from the real
metric objects (``cadml_site.metrics`` and the default registry) and calls :func:`check_consistency`.

A metric is described by its *family* name as ``prometheus_client`` knows it (a counter ``vector_migrate``) and
its type; the series names that appear in PromQL come from the type (``vector_migrate_total``;
``x_bucket``/``x_sum``/``x_count`` for a histogram), so a referenced name is resolved exactly, never by blindly
stripping suffixes (``django_http_responses_total_by_status_total`` is the counter
``django_http_responses_total_by_status``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.rules_lint.promql import (
    PROMETHEUS_SYNTHETIC_SERIES,
    MetricReference,
    PromqlSyntaxError,
    metric_references,
)

COUNTER, GAUGE, HISTOGRAM, SUMMARY, INFO = "counter", "gauge", "histogram", "summary", "info"
# Labels Prometheus or the histogram add to every series, valid in any selector.
TARGET_LABELS = frozenset({"instance", "job"})
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
GAUGE_ONLY_FUNCTIONS = frozenset({"delta", "idelta", "deriv", "predict_linear", "holt_winters"})


@dataclass(frozen=True)
class ContractMetric:
    """A metric the issues publish: the series name as scraped, its type and its exact label names."""

    series: str
    type: str
    labels: tuple[str, ...] = ()


# The published contract (issue 7 and the issues it names). Counters are given by their scraped name.
CONTRACT: tuple[ContractMetric, ...] = (
    ContractMetric("feature_extraction_latency_seconds", HISTOGRAM, ("version",)),
    ContractMetric("vector_query_latency_seconds", HISTOGRAM, ("backend",)),
    ContractMetric("vector_query_batch_latency_seconds", HISTOGRAM, ("batch_size_range",)),
    ContractMetric("vector_migrate_total", COUNTER, ("status",)),
    ContractMetric("vector_migrate_dimension_delta", GAUGE),
    ContractMetric("similarity_degraded_total", COUNTER, ("event",)),
    ContractMetric("faiss_degraded_duration_seconds", GAUGE),
    ContractMetric("faiss_recovery_attempts_total", COUNTER, ("result",)),
    ContractMetric("model_opcode_audit_total", COUNTER),
    ContractMetric("model_opcode_whitelist_violations_total", COUNTER),
    ContractMetric("feature_cache_prewarm_total", COUNTER, ("result",)),
    # Added by the other issues: cache hits and misses, reload outcomes, parse failures, window and
    # suppression state.
    ContractMetric("feature_cache_hits_total", COUNTER),
    ContractMetric("feature_cache_misses_total", COUNTER),
    ContractMetric("model_reload_total", COUNTER, ("code",)),
    ContractMetric("model_reload_duration_seconds", HISTOGRAM),
    ContractMetric("cad_parse_failures_total", COUNTER, ("format", "reason")),
    ContractMetric("faiss_flap_suppression_active", GAUGE),
    ContractMetric("feature_cache_rollback_window_age_seconds", GAUGE),
    ContractMetric("feature_cache_rollback_window_limit_seconds", GAUGE),
)
# Derived series the dashboard relies on, produced by recording rules.
CONTRACT_RECORDINGS: tuple[str, ...] = (
    "instance:feature_cache_hit_ratio:ratio_rate5m",
    "version:feature_extraction_latency_seconds:p95_5m",
    "backend:vector_query_latency_seconds:p95_5m",
)


@dataclass(frozen=True)
class DeclaredMetric:
    """A registered metric object: family name, type, label names and where it comes from."""

    name: str
    type: str
    labels: tuple[str, ...]
    origin: str  # "cadml_site.metrics", "database gauge", "django_prometheus", ...
    code_names: tuple[str, ...] = ()  # Python names bound to the object in the declaring module
    owned: bool = True  # declared by this project (subject to the "unused" check)

    @property
    def series_names(self) -> tuple[str, ...]:
        if self.type == COUNTER:
            return (f"{self.name}_total",)
        if self.type == HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.type == SUMMARY:
            return (self.name, f"{self.name}_sum", f"{self.name}_count")
        if self.type == INFO:
            return (f"{self.name}_info",)
        return (self.name,)


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it was found."""

    where: str
    expr: str
    kind: str  # "rules" or "dashboard"


@dataclass
class ConsistencyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ---- loading ----------------------------------------------------------------------------------------------------
def load_rule_expressions(path: Path) -> tuple[list[Expression], set[str], list[dict]]:
    """Expressions, recording-rule names and alert rules of one Prometheus rule file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError(f"{path}: not a Prometheus rule file (no 'groups' list)")
    expressions: list[Expression] = []
    recorded: set[str] = set()
    alerts: list[dict] = []
    for group in document["groups"]:
        for rule in group.get("rules", []):
            label = rule.get("record") or rule.get("alert")
            expressions.append(Expression(f"{path.name}: {group.get('name')}/{label}", str(rule["expr"]), "rules"))
            if "record" in rule:
                recorded.add(rule["record"])
            else:
                alerts.append(rule)
    return expressions, recorded, alerts


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>[^,)]*)(?:,\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*))?\)\s*$")


def load_dashboard_expressions(path: Path) -> list[Expression]:
    """Every PromQL expression of a Grafana dashboard: panel targets (nested rows too) and query variables."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    expressions: list[Expression] = []

    def walk_panels(panels: Iterable[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    expressions.append(Expression(f"{path.name}: panel {panel.get('title')!r}", target["expr"],
                                                  "dashboard"))
            walk_panels(panel.get("panels", []))

    walk_panels(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if not query:
            continue
        match = _LABEL_VALUES.match(query)
        expr = match.group("selector") if match else query
        if expr.strip():
            expressions.append(Expression(f"{path.name}: variable {variable.get('name')!r}", expr, "dashboard"))
    return expressions


# ---- checks -----------------------------------------------------------------------------------------------------
def _series_index(declared: Iterable[DeclaredMetric]) -> dict[str, DeclaredMetric]:
    index: dict[str, DeclaredMetric] = {}
    for metric in declared:
        for series in metric.series_names:
            index.setdefault(series, metric)
    return index


def _check_contract(declared: list[DeclaredMetric], index: Mapping[str, DeclaredMetric], recorded: set[str],
                    report: ConsistencyReport) -> None:
    by_family = {metric.name: metric for metric in declared}
    for item in CONTRACT:
        # A histogram is published under its family name, a counter under its scraped series name: find the
        # metric either way, so that a wrongly typed declaration is reported as such, not as missing.
        metric = by_family.get(item.series) or index.get(item.series)
        if metric is None:
            report.problems.append(f"contract metric {item.series} is not registered")
            continue
        if metric.type != item.type:
            report.problems.append(f"contract metric {item.series} is a {metric.type}, expected a {item.type}")
        if tuple(metric.labels) != item.labels:
            report.problems.append(
                f"contract metric {item.series} has labels {list(metric.labels)}, expected {list(item.labels)}"
            )
    for name in CONTRACT_RECORDINGS:
        if name not in recorded:
            report.problems.append(f"recording rule {name} (used by the dashboard contract) is not defined")


def _check_reference(ref: MetricReference, expression: Expression, index: Mapping[str, DeclaredMetric],
                     recorded: set[str], report: ConsistencyReport) -> DeclaredMetric | None:
    where = expression.where
    if ref.name in recorded or ref.name in PROMETHEUS_SYNTHETIC_SERIES:
        return None
    metric = index.get(ref.name)
    if metric is None:
        report.problems.append(f"{where}: references {ref.name}, which no registered metric exports")
        return None
    allowed_labels = set(metric.labels) | TARGET_LABELS
    if ref.name.endswith("_bucket") and metric.type == HISTOGRAM:
        allowed_labels.add("le")
    for label in ref.label_names:
        if label not in allowed_labels:
            report.problems.append(f"{where}: {ref.name} has no label {label!r} (labels: {sorted(allowed_labels)})")
    # Counters and the _bucket/_sum/_count series of histograms and summaries only ever go up.
    counter_like = metric.type == COUNTER or (
        metric.type in (HISTOGRAM, SUMMARY) and ref.name.endswith(("_bucket", "_count", "_sum"))
    )
    if ref.inside(*COUNTER_FUNCTIONS) and not counter_like:
        report.problems.append(f"{where}: {'/'.join(sorted(set(ref.functions) & COUNTER_FUNCTIONS))}() applied to "
                               f"{ref.name}, a {metric.type}")
    if counter_like and not ref.inside(*COUNTER_FUNCTIONS):
        report.problems.append(f"{where}: counter series {ref.name} used without rate()/increase()")
    if counter_like and ref.inside(*GAUGE_ONLY_FUNCTIONS):
        report.problems.append(f"{where}: gauge function applied to counter series {ref.name}")
    if ref.name.endswith("_bucket") and metric.type == HISTOGRAM and not ref.inside("histogram_quantile"):
        report.problems.append(f"{where}: {ref.name} used outside histogram_quantile()")
    if ref.inside("histogram_quantile") and not (ref.name.endswith("_bucket") and metric.type == HISTOGRAM):
        report.problems.append(f"{where}: histogram_quantile() over {ref.name}, which is not a histogram bucket")
    return metric


def _check_alert_metadata(alerts: list[dict], runbook_anchors: set[str] | None, report: ConsistencyReport) -> None:
    for rule in alerts:
        name = rule.get("alert")
        labels = rule.get("labels") or {}
        annotations = rule.get("annotations") or {}
        if labels.get("severity") not in ("critical", "warning", "info"):
            report.problems.append(f"alert {name}: severity must be critical, warning or info")
        if not annotations.get("summary"):
            report.problems.append(f"alert {name}: no summary annotation")
        runbook = str(annotations.get("runbook_url", ""))
        if not runbook.startswith("docs/runbooks.md#"):
            report.problems.append(f"alert {name}: runbook_url must point into docs/runbooks.md#<anchor>")
        elif runbook_anchors is not None and runbook.split("#", 1)[1] not in runbook_anchors:
            report.problems.append(f"alert {name}: docs/runbooks.md has no section for anchor "
                                   f"#{runbook.split('#', 1)[1]}")


def markdown_anchors(text: str) -> set[str]:
    """GitHub-style anchors of the headings of a Markdown document."""
    anchors: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def check_consistency(
    *,
    declared: Iterable[DeclaredMetric],
    rule_files: Iterable[Path],
    dashboard_files: Iterable[Path],
    code_texts: Mapping[str, str],
    runbooks_text: str | None = None,
) -> ConsistencyReport:
    """Runs every check; ``code_texts`` maps a source path to its text (the declaring module excluded)."""
    declared = list(declared)
    report = ConsistencyReport()
    seen_names: dict[str, DeclaredMetric] = {}
    for metric in declared:
        other = seen_names.get(metric.name)
        if other is not None and other.origin != metric.origin:
            report.problems.append(f"metric {metric.name} is declared twice ({other.origin}, {metric.origin})")
        seen_names[metric.name] = metric
    index = _series_index(declared)

    expressions: list[Expression] = []
    recorded: set[str] = set()
    alerts: list[dict] = []
    for path in rule_files:
        rule_expressions, rule_recorded, rule_alerts = load_rule_expressions(path)
        expressions += rule_expressions
        recorded |= rule_recorded
        alerts += rule_alerts
    for path in dashboard_files:
        expressions += load_dashboard_expressions(path)

    _check_contract(declared, index, recorded, report)
    anchors = markdown_anchors(runbooks_text) if runbooks_text is not None else None
    _check_alert_metadata(alerts, anchors, report)

    used_in: dict[str, set[str]] = {}
    for expression in expressions:
        try:
            references = metric_references(expression.expr)
        except PromqlSyntaxError as exc:
            report.problems.append(f"{expression.where}: {exc}")
            continue
        if not references:
            report.problems.append(f"{expression.where}: expression references no metric")
        for ref in references:
            metric = _check_reference(ref, expression, index, recorded, report)
            if metric is not None:
                used_in.setdefault(metric.name, set()).add(expression.kind)

    for metric in declared:
        if not metric.owned:
            continue
        if not used_in.get(metric.name):
            report.problems.append(f"declared metric {metric.name} ({metric.origin}) is used by neither the rules "
                                   "nor the dashboard")
        if not _used_in_code(metric, code_texts):
            report.problems.append(f"declared metric {metric.name} ({metric.origin}) is never updated or "
                                   "registered by any code")
    report.notes.append(f"{len(declared)} registered metrics, {len(expressions)} expressions, "
                        f"{len(recorded)} recording rules, {len(alerts)} alerts checked")
    return report


def _used_in_code(metric: DeclaredMetric, code_texts: Mapping[str, str]) -> bool:
    patterns = [re.compile(rf"\b{re.escape(name)}\b") for name in metric.code_names]
    patterns.append(re.compile(rf"""["']{re.escape(metric.name)}["']"""))
    return any(pattern.search(text) for text in code_texts.values() for pattern in patterns)
