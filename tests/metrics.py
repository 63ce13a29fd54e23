"""Reading metric values in tests."""

from __future__ import annotations

from prometheus_client import REGISTRY


def metric_value(name: str, **labels) -> float:
    """The current value of the sample ``name`` with these labels in this process's registry; 0.0 when it has not
    been observed yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
