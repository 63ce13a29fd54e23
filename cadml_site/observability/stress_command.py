"""Base class of the stress_* management commands: build the client, run the scenario, print, exit.

The load client and the scenarios live in ``tools/stress/`` (developer tooling, not part of the running service);
they are imported inside the methods, so importing this module or a command module loads none of them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class StressCommand(BaseCommand):
    """Subclasses add their arguments and implement ``run_scenario(client, options) -> ScenarioResult``."""

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
        for line in result.lines:
            self.stdout.write(line)
        if not result.ok:
            for failure in result.failures:
                self.stderr.write(f"FAILURE: {failure}")
            raise CommandError(f"{result.name} failed with {len(result.failures)} problem(s)")
        self.stdout.write(self.style.SUCCESS(f"{result.name}: OK"))
