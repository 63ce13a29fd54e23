"""manage.py stress_concurrency_reload: model reloads racing classification and search (issue 7)."""

from __future__ import annotations

from cadml_site.observability.stress_command import StressCommand


class Command(StressCommand):
    help = (
        "Against a live server: threads reload models (POST /api/v1/model/reload/) while others classify "
        "(/api/v1/model/predict/) and search (/api/v1/vectors/similarity/). Fails on any error, on a load sequence "
        "that does not strictly increase or does not advance by exactly one per reload, and on a prediction from "
        "an unexpected model. Prints latency percentiles per operation."
    )

    bound_defaults = (30.0, 200)

    def add_scenario_arguments(self, parser):
        parser.add_argument("--versions", default="",
                            help="Comma-separated model version labels to reload in turn (default: the active one).")
        parser.add_argument("--reloaders", type=int, default=2, help="Reloading threads (default 2).")
        parser.add_argument("--classifiers", type=int, default=4, help="Classifying threads (default 4).")
        parser.add_argument("--searchers", type=int, default=4, help="Searching threads (default 4).")

    def run_scenario(self, client, options):
        from tools.stress.scenarios import concurrency_reload

        for name in ("reloaders", "classifiers", "searchers"):
            if not 1 <= options[name] <= 64:
                raise ValueError(f"--{name} must be between 1 and 64")
        versions = [v.strip() for v in options["versions"].split(",") if v.strip()] or None
        return concurrency_reload(
            client, feature_version=options["feature_version"], versions=versions,
            bounds=self.bounds(options), reloaders=options["reloaders"],
            classifiers=options["classifiers"], searchers=options["searchers"],
        )
