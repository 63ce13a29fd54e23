"""Runs the metrics consistency check over this project's real metric objects, rules, dashboard and code."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from tools.rules_lint.catalogue import module_metrics, registry_metrics
from tools.rules_lint.consistency import ConsistencyReport, check_consistency

# Folders whose Python files are not service code: a metric only a test, a benchmark or a tool (the stress client,
# this checker) touches is dead.
NOT_SERVICE_CODE = frozenset({".venv", "venv", ".git", "tests", "bench", "tools", "var", "node_modules",
                              "__pycache__", "migrations"})


def service_code_texts(base_dir: Path, *, exclude: set[Path]) -> dict[str, str]:
    """Source text of every service Python file under ``base_dir`` except the ``exclude``d ones."""
    texts: dict[str, str] = {}
    for path in sorted(base_dir.rglob("*.py")):
        relative = path.relative_to(base_dir)
        if NOT_SERVICE_CODE.intersection(relative.parts[:-1]) or path.resolve() in exclude:
            continue
        texts[relative.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def project_consistency_report(
    *, base_dir: Path, rule_files: list[Path] | None = None, dashboard_files: list[Path] | None = None,
) -> ConsistencyReport:
    from cadml_site import metrics
    from django_prometheus.middleware import Metrics as DjangoHttpMetrics

    DjangoHttpMetrics.get_instance()  # registers django-prometheus's HTTP metrics, as the middleware does
    declared = module_metrics(metrics)
    declared += registry_metrics(REGISTRY, exclude={metric.name for metric in declared})

    rule_files = rule_files if rule_files is not None else sorted((base_dir / "prometheus" / "rules").glob("*.yaml"))
    dashboard_files = (dashboard_files if dashboard_files is not None
                       else sorted((base_dir / "grafana" / "dashboards").glob("*.json")))
    if not rule_files:
        raise FileNotFoundError(f"no rule files under {base_dir / 'prometheus' / 'rules'}")
    if not dashboard_files:
        raise FileNotFoundError(f"no dashboards under {base_dir / 'grafana' / 'dashboards'}")
    runbooks = base_dir / "docs" / "runbooks.md"
    # The declaring module mentions every metric name; that does not count as a use (nor does the checker, in tools/).
    exclude = {Path(metrics.__file__).resolve()}
    return check_consistency(
        declared=declared,
        rule_files=rule_files,
        dashboard_files=dashboard_files,
        code_texts=service_code_texts(base_dir, exclude=exclude),
        runbooks_text=runbooks.read_text(encoding="utf-8") if runbooks.exists() else "",
    )
