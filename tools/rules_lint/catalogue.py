"""Describes the real metric objects of a module and of a registry (Django-free).

The consistency check must look at what is actually registered, not at a list someone keeps by hand: this module
reads the type, family name and label names from the ``prometheus_client`` objects themselves.
"""

from __future__ import annotations

from types import ModuleType

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from tools.rules_lint.consistency import GAUGE, DeclaredMetric


def _describe(metric: MetricWrapperBase, *, origin: str, code_names: tuple[str, ...], owned: bool) -> DeclaredMetric:
    families = metric.describe()
    if len(families) != 1:
        raise ValueError(f"metric object {metric!r} describes {len(families)} families")
    family = families[0]
    return DeclaredMetric(
        name=family.name,
        type=family.type,
        labels=tuple(metric._labelnames),  # prometheus_client keeps label names only on this attribute
        origin=origin,
        code_names=code_names,
        owned=owned,
    )


def module_metrics(module: ModuleType) -> list[DeclaredMetric]:
    """Metric objects bound to names in ``module``, plus its database-backed gauges (``DB_GAUGES``)."""
    names_by_object: dict[int, list[str]] = {}
    objects: dict[int, MetricWrapperBase] = {}
    for attribute, value in vars(module).items():
        if isinstance(value, MetricWrapperBase):
            names_by_object.setdefault(id(value), []).append(attribute)
            objects[id(value)] = value
    declared = [
        _describe(objects[key], origin=module.__name__, code_names=tuple(sorted(names)), owned=True)
        for key, names in names_by_object.items()
    ]
    for spec in getattr(module, "DB_GAUGES", {}).values():
        declared.append(DeclaredMetric(
            name=spec.name, type=GAUGE, labels=tuple(spec.labelnames), origin="database gauge", owned=True,
        ))
    return declared


def registry_metrics(registry: CollectorRegistry, *, exclude: set[str]) -> list[DeclaredMetric]:
    """Other metric objects registered in ``registry`` (django-prometheus's), not subject to the unused check."""
    collectors = {id(c): c for c in registry._names_to_collectors.values()}  # the registry's own index
    declared: list[DeclaredMetric] = []
    for collector in collectors.values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        metric = _describe(collector, origin=type(collector).__module__, code_names=(), owned=False)
        if metric.name in exclude:
            continue
        declared.append(DeclaredMetric(
            name=metric.name, type=metric.type, labels=metric.labels,
            origin=_origin_of(collector), owned=False,
        ))
    return declared


def _origin_of(collector: MetricWrapperBase) -> str:
    name = collector._name
    return "django_prometheus" if name.startswith("django_") else "registry"
