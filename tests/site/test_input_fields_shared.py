"""`cadml_site.api.inputs.Input`: bound fields built once per class, the same validation as a plain serializer."""

from __future__ import annotations

import importlib
import threading

from rest_framework import serializers

from tests.site.field_builds import count_field_builds

from cadml_site.api.inputs import Input, JsonInput, QueryInput


class PartInput(JsonInput):
    name = serializers.CharField(max_length=5)


def _order_declaration() -> dict:
    """One declaration, given to two bases below: fresh field objects for each class."""

    def validate(self, attrs):
        if attrs.get("kind") == "b" and "tags" not in attrs:
            raise serializers.ValidationError("kind b needs tags")
        return attrs

    return {"k": serializers.IntegerField(min_value=1, max_value=10, default=3),
            "tags": serializers.ListField(child=serializers.CharField(max_length=3), required=False),
            "part": PartInput(required=False), "parts": PartInput(many=True, required=False),
            "kind": serializers.ChoiceField(choices=["a", "b"], default="a"), "validate": validate}


OrderInput = type("OrderInput", (JsonInput,), _order_declaration())
# the same declaration on DRF's own base: a fresh copy of every field for each instance
PlainOrderInput = type("PlainOrderInput", (serializers.Serializer,), _order_declaration())


PAYLOADS = [
    {},
    {"k": 5, "tags": ["x", "yz"], "part": {"name": "bolt"}, "parts": [{"name": "a"}, {"name": "b"}], "kind": "b"},
    {"k": 0},
    {"k": 11, "tags": ["long tag"]},
    {"kind": "b"},
    {"kind": "c", "part": {"name": "too long"}},
    {"parts": [{"name": "ok"}, {}]},
    {"k": 2},
]


def outcome(serializer_class, data) -> tuple[bool, object]:
    serializer = serializer_class(data=data)
    valid = serializer.is_valid()
    return valid, serializer.validated_data if valid else serializer.errors


def test_validation_is_that_of_a_plain_serializer_in_any_order():
    expected = [outcome(PlainOrderInput, data) for data in PAYLOADS]
    for order in (PAYLOADS, PAYLOADS[::-1], PAYLOADS * 2):
        for data in order:  # an invalid payload leaves nothing behind for the next one
            assert outcome(OrderInput, data) == expected[PAYLOADS.index(data)]


def test_fields_are_built_once_per_class(monkeypatch):
    class CountedInput(OrderInput):
        pass

    built = count_field_builds(monkeypatch)
    first = CountedInput(data={"k": 1})
    for data in PAYLOADS:
        CountedInput(data=data).is_valid()
    assert built.count("CountedInput") == 1
    assert CountedInput(data={}).fields is first.fields
    # the instances stay apart: data, validated data and errors are each instance's own
    a, b = CountedInput(data={"k": 2}), CountedInput(data={"k": 0})
    assert a.is_valid() and not b.is_valid()
    assert a.validated_data["k"] == 2 and "k" in b.errors and not a.errors


def test_threads_validating_at_once_each_get_their_own_outcome():
    expected = [outcome(PlainOrderInput, data) for data in PAYLOADS]
    failures = []

    def validate_all(offset: int):
        for n in range(300):
            i = (n + offset) % len(PAYLOADS)
            got = outcome(OrderInput, PAYLOADS[i])
            if got != expected[i]:
                failures.append((i, got))

    threads = [threading.Thread(target=validate_all, args=(offset,)) for offset in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _fields_of(field):
    yield field
    if isinstance(field, (serializers.ListField, serializers.DictField, serializers.ListSerializer)):
        yield from _fields_of(field.child)
    elif isinstance(field, serializers.Serializer):
        for child in field.fields.values():
            yield from _fields_of(child)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_input_of_the_service_needs_a_context():
    """Shared fields are bound to a prototype instance built without context: no field of an input serializer may
    read the request's context (a ``requires_context`` default or validator, such as CurrentUserDefault)."""
    for module in ("analysis.api.serializers", "vectors.api.serializers", "modelops.api.serializers",
                   "cachectl.api.serializers", "cadml_site.api.pagination", "cadml_site.api.auth_views"):
        importlib.import_module(module)
    inputs = [cls for cls in _subclasses(Input) if cls.__module__.split(".")[0] != "tests"]
    assert len(inputs) > 15 and {JsonInput, QueryInput} <= set(inputs)
    for cls in inputs:
        for field in (f for top in cls().fields.values() for f in _fields_of(top)):
            default = getattr(field, "default", None)
            assert not getattr(default, "requires_context", False), (cls.__name__, field.field_name)
            for validator in field.validators:
                assert not getattr(validator, "requires_context", False), (cls.__name__, field.field_name)
