"""`cadml_site.api.output.output_data`: the same body as a fresh serializer's `.data`, fields built once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from rest_framework import serializers

from tests.site.field_builds import count_field_builds

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


class EdgeOutput(serializers.Serializer):
    """Fields whose value the plan does not take as it is, and absent or odd values."""

    count = serializers.IntegerField()
    ratio = serializers.FloatField()
    flag = serializers.BooleanField()
    label = serializers.CharField(required=False)
    kind = serializers.ChoiceField(choices=["a", "b"], required=False)
    note = serializers.CharField(default="none")
    maybe = serializers.IntegerField(allow_null=True)
    deep = serializers.CharField(source="inner.name")
    whole = serializers.DictField(source="*")
    when = serializers.DateTimeField()
    blob = serializers.JSONField()
    part = PartOutput(required=False, allow_null=True)
    numbers = serializers.ListField(child=serializers.FloatField(), required=False)
    names = serializers.ListField(child=serializers.CharField(), required=False)


class Thing:
    """An object payload: rendered by DRF's own to_representation."""

    def __init__(self, i):
        self.id, self.part, self.parts, self.values, self.extra = i, payload(i)["part"], [], [i], {}


def edge_payloads():
    import numpy as np

    when = datetime(2026, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
    base = {"count": 3, "ratio": 0.5, "flag": True, "inner": {"name": "in"}, "when": when, "blob": {"a": [1, None]},
            "maybe": None}
    return [
        base,
        {**base, "count": True, "ratio": np.float32(0.25), "flag": 0, "label": 7, "kind": "b", "note": "n"},
        {**base, "count": np.int64(9), "ratio": 2, "flag": "yes", "label": "x", "maybe": 4, "part": None},
        {**base, "label": lambda: "called", "part": payload(2)["part"], "blob": "text"},
        {**base, "count": "12", "ratio": "1.5"},
        {**base, "numbers": [1.5, 2, None, np.float64(3.25), True], "names": ["a", 1, None]},
        {**base, "numbers": (0.5, 1), "names": ("t",)},
    ]


def test_the_plan_renders_what_drf_renders_for_every_kind_of_value():
    for body in edge_payloads():
        assert output_data(EdgeOutput, body) == EdgeOutput(body).data
    bodies = edge_payloads()
    assert output_data(EdgeOutput, bodies, many=True) == EdgeOutput(bodies, many=True).data
    assert output_data(AnswerOutput, Thing(4)) == AnswerOutput(Thing(4)).data
    rendered = output_data(EdgeOutput, edge_payloads()[1])
    assert rendered["count"] == 1 and type(rendered["count"]) is int and type(rendered["ratio"]) is float
    assert rendered["flag"] is False and rendered["label"] == "7" and rendered["part"] is None  # allow_null: None


def test_a_required_field_missing_from_the_payload_fails_as_in_drf():
    import pytest

    body = {k: v for k, v in edge_payloads()[0].items() if k != "count"}
    with pytest.raises(KeyError):
        EdgeOutput(body).data
    with pytest.raises(KeyError):
        output_data(EdgeOutput, body)


def test_fields_are_built_once_per_class(monkeypatch):
    class CountedOutput(AnswerOutput):
        pass

    built = count_field_builds(monkeypatch)
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
