"""`cadml_site.api.output.output_data`: the same body as a fresh serializer's `.data`, fields built once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from rest_framework import serializers

from cadml_site.api.output import output_data


class PartOutput(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    seen_at = serializers.DateTimeField()


class AnswerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    part = PartOutput()
    parts = PartOutput(many=True)
    values = serializers.ListField(child=serializers.FloatField())
    extra = serializers.DictField()


def payload(i: int) -> dict:
    part = {"name": f"p{i}", "size": i, "seen_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    return {"id": i, "part": part, "parts": [part, {**part, "name": "q"}], "values": [1, 2.5, i], "extra": {"k": i}}


def test_the_body_is_a_fresh_serializers_data():
    for i in range(3):
        assert output_data(AnswerOutput, payload(i)) == AnswerOutput(payload(i)).data
    assert output_data(PartOutput, [payload(1)["part"]] * 2, many=True) == \
        PartOutput([payload(1)["part"]] * 2, many=True).data


def test_fields_are_built_once_per_class(monkeypatch):
    class CountedOutput(AnswerOutput):
        pass

    built = []
    original = serializers.Serializer.get_fields

    def counting(self):
        built.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(serializers.Serializer, "get_fields", counting)
    for i in range(5):
        output_data(CountedOutput, payload(i))
    # the outer serializer and its two nested ones, once: not once per call
    assert built.count("CountedOutput") == 1 and built.count("PartOutput") == 2


def test_threads_share_one_serializer_and_each_gets_its_own_body():
    results, errors = {}, []

    def render(i):
        try:
            for _ in range(50):
                results[i] = output_data(AnswerOutput, payload(i))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert all(results[i]["id"] == i and results[i]["part"]["name"] == f"p{i}" for i in range(8))
