"""Base class of the stress_* management commands: build the client, run the scenario, print, exit.

The load client and the scenarios live in ``tools/stress/`` (developer tooling, not part of the running service);
they are imported inside the methods, so importing this module or a command module loads none of them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cadml_site.observability.command_output import write_outcome


class StressCommand(BaseCommand):
    """Subclasses add their own arguments in ``add_scenario_arguments`` and implement
    ``run_scenario(client, options) -> ScenarioResult``; every command takes the server (and ops credential)
    arguments, and the ``--duration``/``--iterations`` bounds when ``bound_defaults`` names their defaults."""

    bound_defaults: tuple[float, int] | None = None  # (duration in seconds, iterations)

    def add_arguments(self, parser):
        from tools.stress.command_options import add_bound_arguments, add_server_arguments

        add_server_arguments(parser, ops=True)
        if self.bound_defaults is not None:
            duration, iterations = self.bound_defaults
            add_bound_arguments(parser, duration=duration, iterations=iterations)
        self.add_scenario_arguments(parser)

    def add_scenario_arguments(self, parser):
        """The scenario's own arguments (none by default)."""

    @staticmethod
    def bounds(options):
        """The ``Bounds`` of ``--duration`` and ``--iterations``."""
        from tools.stress.scenarios import Bounds

        return Bounds(options["duration"], options["iterations"])

    def run_scenario(self, client, options):  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self, *args, **options):
        from tools.stress.client import StressConfigurationError, UnexpectedResponse
        from tools.stress.command_options import client_from_options

        try:
            client = client_from_options(options, metrics_token=settings.CADML_METRICS_TOKEN)
            result = self.run_scenario(client, options)
        except (StressConfigurationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except UnexpectedResponse as exc:
            raise CommandError(f"the server answered unexpectedly: {exc}") from exc
        self.stdout.write(f"== {result.name} against {client.base_url}")
        write_outcome(self, notes=result.lines, problems=result.failures, problem_label="FAILURE",
                      failed=f"{result.name} failed", passed=f"{result.name}: OK")
