"""What an app's ``ready()`` plugs into the site: its process-local state, its /health section, its gauges."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cadml_site.health import HealthSection, register_health_section
from cadml_site.metrics import GaugeSource, register_gauge_source
from cadml_site.process_state import register_process_finalizer, register_process_initializer


def register_app_runtime(*, process: tuple[str, Callable[[], None]], health: tuple[str, HealthSection],
                         gauges: Mapping[str, GaugeSource] | None = None,
                         finalizer: Callable[[], None] | None = None) -> None:
    """Registers ``process`` (name, restart) to run in every new worker process (and ``finalizer``, under the same
    name, when the process ends), ``health`` (name, section) as a section of /health, and each database-backed gauge
    of ``gauges`` (metric name -> source; the metric is declared in ``cadml_site.metrics.DB_GAUGES``)."""
    name, restart = process
    register_process_initializer(name, restart)
    if finalizer is not None:
        register_process_finalizer(name, finalizer)
    register_health_section(*health)
    for metric, source in (gauges or {}).items():
        register_gauge_source(metric, source)
