"""manage.py stress_degradation_flapping: degrade/recover cycles through the drill and recover endpoints (issue 7)."""

from __future__ import annotations

from cadml_site.observability.stress_command import StressCommand


class Command(StressCommand):
    help = (
        "Against a live server: starts a degrade drill and recovers it, --cycles times; checks that searches switch "
        "to the numpy backend and back, that flap suppression engages, and that the index events agree with "
        "similarity_degraded_total. Exits non-zero on any failure."
    )

    def add_scenario_arguments(self, parser):
        parser.add_argument("--cycles", type=int, default=4,
                            help="Degrade/recover cycles, 1 to 5 (default 4; suppression needs the flap threshold, 3).")
        parser.add_argument("--drill-seconds", type=int, default=120,
                            help="Length of each drill if it is not recovered (default 120).")

    def run_scenario(self, client, options):
        from tools.stress.scenarios import degradation_flapping

        return degradation_flapping(client, feature_version=options["feature_version"], cycles=options["cycles"],
                                    drill_seconds=options["drill_seconds"])
