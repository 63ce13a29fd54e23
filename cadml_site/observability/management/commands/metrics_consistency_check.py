"""manage.py metrics_consistency_check: the metrics contract, alert rules, dashboard and code agree (issue 7)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cadml_site.observability.command_output import write_outcome


class Command(BaseCommand):
    help = (
        "Checks that every contract metric is registered with the right type and labels, that every metric the "
        "Prometheus rules and the Grafana dashboard reference exists and is used with functions that fit its "
        "type, that each alert has a severity, a summary and a runbook section, and that no declared metric is "
        "unused. Exits non-zero on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rules", nargs="+", type=Path, metavar="FILE",
                            help="Rule files to check (default: prometheus/rules/*.yaml).")
        parser.add_argument("--dashboards", nargs="+", type=Path, metavar="FILE",
                            help="Grafana dashboards to check (default: grafana/dashboards/*.json).")

    def handle(self, *args, **options):
        from tools.rules_lint.project import project_consistency_report

        for path in (options["rules"] or []) + (options["dashboards"] or []):
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
        try:
            report = project_consistency_report(
                base_dir=Path(settings.BASE_DIR), rule_files=options["rules"], dashboard_files=options["dashboards"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        write_outcome(self, notes=report.notes, problems=report.problems, problem_label="PROBLEM",
                      failed="metrics consistency check failed", passed="metrics consistency check passed")
