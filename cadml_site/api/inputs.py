"""Base classes of input serializers: the service reads exactly what the OpenAPI schema says.

DRF is lenient by design: it reads JSON like a form (``"5"`` is an integer, ``0`` is a string, ``"yes"`` is a
boolean) and treats ``?name=`` (empty) like an absent parameter. Our schema says ``integer``, ``string``,
``boolean`` and ``enum``; these bases make the serializers say the same, so that a request the schema refuses is
refused (400 ``validation_failed``) rather than guessed at.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import serializers

EMPTY_PARAMETER = "This parameter may not be empty."
REPEATED_PARAMETER = "This parameter may be given once."


def _json_type(field: serializers.Field) -> tuple[tuple[type, ...], str] | None:
    """The JSON types ``field`` takes (as Python types) and their name, or None for any JSON value."""
    if isinstance(field, (serializers.JSONField, serializers.HiddenField, serializers.FileField)):
        return None
    if isinstance(field, serializers.BooleanField):
        return (bool,), "boolean"
    if isinstance(field, serializers.IntegerField):
        return (int, float), "integer"  # 5.0 is an integer to JSON Schema; non-integral floats fail in DRF
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return (int, float), "number"
    if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        kinds = {type(choice) for choice in field.choices}
        return (str,), "string" if kinds <= {str} else None
    if isinstance(field, serializers.CharField):
        return (str,), "string"
    if isinstance(field, (serializers.ListField, serializers.ListSerializer, serializers.MultipleChoiceField)):
        return (list,), "array"
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return (dict,), "object"
    return None


def _is_a(value, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


_shared_fields: dict[type, serializers.BindingDict] = {}
_shared_fields_lock = threading.Lock()


# (comments, not docstrings: drf-spectacular would show a base class's docstring on every subclass's component)
# Input: an input serializer whose bound fields are built once per class and process, then shared by every instance.
# DRF deep-copies the declared fields each time a serializer is built (about 0.3 ms of a similarity request's CPU for
# its nine fields, more than the JSON parse and the answer together). Validation keeps its state on the serializer
# instance (initial data, validated data, errors), never on a field: a field's state is its declaration and its
# binding (name, source, parent), fixed once bound, plus the validators list DRF builds on first use, built here before
# the fields are shared. The fields' parent is a prototype instance of the class, so a field that read the root's
# ``context`` or ``partial`` would read the prototype's: input serializers here are built with neither (``validated``),
# and ``tests/site/test_input_fields_shared.py`` keeps it so.
class Input(serializers.Serializer):

    @property
    def fields(self) -> serializers.BindingDict:
        cls = type(self)
        fields = _shared_fields.get(cls)
        if fields is None:
            with _shared_fields_lock:
                fields = _shared_fields.get(cls)
                if fields is None:
                    fields = _bound_fields(cls)
                    _shared_fields[cls] = fields
        return fields


def _bound_fields(cls: type[Input]) -> serializers.BindingDict:
    """The declared fields of ``cls``, copied and bound once to a prototype instance, validators built."""
    prototype = cls()
    fields = serializers.BindingDict(prototype)
    for name, field in prototype.get_fields().items():
        fields[name] = field
    pending = list(fields.values())
    while pending:  # nested fields too: a list's child, a nested serializer's own fields
        field = pending.pop()
        _ = field.validators
        if isinstance(field, (serializers.ListField, serializers.DictField)):
            pending.append(field.child)
        elif isinstance(field, serializers.ListSerializer):
            pending.append(field.child)
        elif isinstance(field, serializers.Serializer) and not isinstance(field, Input):
            pending.extend(field.fields.values())
    return fields


# JsonInput: input of a JSON body: every field takes exactly the JSON type the schema gives it (booleans are not
# numbers). Form and multipart bodies (``QueryDict``) keep DRF's form parsing: their values are strings by nature.
class JsonInput(Input):

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data or data[name] is None:
                    continue  # absence and null are the fields' own business (required, allow_null)
                expected = _json_type(field)
                if expected is None:
                    continue
                types, label = expected
                value = data[name]
                if not _is_a(value, types):
                    errors[name] = [f"Must be a JSON {label}."]
                elif isinstance(field, serializers.ListField) and _json_type(field.child) is not None:
                    item_types, item_label = _json_type(field.child)
                    if not all(_is_a(item, item_types) for item in value):
                        errors[name] = [f"Every item must be a JSON {item_label}."]
            if errors:  # report them with whatever else is wrong with the other fields
                rest = {name: value for name, value in data.items() if name not in errors}
                try:
                    super().to_internal_value(rest)
                except serializers.ValidationError as exc:
                    if isinstance(exc.detail, dict):
                        errors = {**exc.detail, **errors}
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


# QueryInput: input of query parameters: ``?name=`` (empty) is refused unless the field allows blank, and so is a
# parameter given twice. DRF reads form-style input and treats an empty value of an optional field as absent, so
# that ``?feature_version=`` would silently mean "the default"; the schema says the value is an enum, and so do we.
class QueryInput(Input):

    def to_internal_value(self, data):
        errors = {}
        for name, field in self.fields.items():
            if name not in data:
                continue
            if isinstance(data, QueryDict) and len(data.getlist(name)) > 1:
                errors[name] = [REPEATED_PARAMETER]
            elif data.get(name) == "" and not getattr(field, "allow_blank", False):
                errors[name] = [EMPTY_PARAMETER]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
