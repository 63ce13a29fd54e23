"""Reads samples from a Prometheus text exposition (the server's /metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families


class MetricsSnapshot:
    """All samples of one scrape, looked up by series name and exact labels or summed over a label subset."""

    def __init__(self, text: str):
        self._samples: list[tuple[str, dict[str, str], float]] = [
            (sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def names(self) -> set[str]:
        return {name for name, _, _ in self._samples}

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """Sum of the samples of ``name`` whose labels include ``labels``; None when there is none."""
        labels = labels or {}
        matched = [value for sample_name, sample_labels, value in self._samples
                   if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())]
        return sum(matched) if matched else None

    def require(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        value = self.value(name, labels)
        if value is None:
            raise LookupError(f"/metrics has no sample {name}{dict(labels or {})}")
        return value
