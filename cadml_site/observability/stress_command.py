"""Base class of the stress_* management commands: build the client, run the scenario, print, exit."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cadml_site.stress.client import StressConfigurationError, UnexpectedResponse
from cadml_site.stress.command_options import client_from_options
from cadml_site.stress.scenarios import ScenarioResult


class StressCommand(BaseCommand):
    """Subclasses add their arguments and implement ``run_scenario(client, options) -> ScenarioResult``."""

    def run_scenario(self, client, options) -> ScenarioResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self, *args, **options):
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
