"""Counting how often DRF builds a serializer's fields (``Serializer.get_fields``), by class name."""

from __future__ import annotations

from rest_framework import serializers


def count_field_builds(monkeypatch) -> list[str]:
    """The class name of every serializer whose fields are built from now on (until the monkeypatch undoes it)."""
    built: list[str] = []
    original = serializers.Serializer.get_fields

    def counting(self):
        built.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(serializers.Serializer, "get_fields", counting)
    return built
