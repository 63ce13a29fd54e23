"""Response bodies rendered by one bound output serializer per class and process, through a plan made once.

DRF deep-copies a serializer's declared fields each time a serializer is built: for the analyze answer's nested
output serializers that was about a fifth of the request's CPU (docs/benchmarks.md, "Request overhead of the analyze
path"). An output serializer only renders (``to_representation``); its fields keep no state of a request (no
``context`` is read by the serializers rendered here), so one instance per class serves every request and thread.
Input serializers share their fields too (``cadml_site.api.inputs.Input``), but not their instances: validation keeps
its data and errors on the instance.

The payloads rendered here are dicts of plain values, so each serializer also gets a plan, made once: per readable
field its key in the payload and how to render the value. A value already of the type a field renders (a ``str`` for
a ``CharField``, a ``float`` for a ``FloatField``, an ``int`` for an ``IntegerField``, a ``bool`` for a
``BooleanField``, any value of a ``JSONField``) is taken as it is, which is what the field's ``to_representation``
returns for it; nested serializers follow their own plans; an absent key of a field that is not required and has no
default and no null is left out, as DRF leaves it out; every other value, other absent keys, a callable, a source
with dots and anything that is not a dict go through DRF's own ``get_attribute`` and ``to_representation``. The body
is the one ``serializer_class(payload).data`` gives (``tests/site/test_output_serializers.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from rest_framework import serializers
from rest_framework.fields import SkipField, empty

_bound: dict[tuple[type, bool], Callable] = {}
_lock = threading.Lock()

# field classes (exactly these, not subclasses) whose to_representation returns a value of this type unchanged
_UNCHANGED = {serializers.CharField: str, serializers.FloatField: float, serializers.IntegerField: int,
              serializers.BooleanField: bool}


def _field_renderer(field: serializers.Field) -> Callable | None:
    """How to render a present, non-None value of ``field``: None when it is taken as it is."""
    if type(field) is serializers.JSONField and not field.binary:
        return None
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, serializers.Serializer):
        child = _plan_renderer(field.child)
        manager_aware = field.to_representation

        def render_list(value):
            return [child(item) for item in value] if isinstance(value, (list, tuple)) else manager_aware(value)
        return render_list
    if isinstance(field, serializers.Serializer):
        return _plan_renderer(field)
    if type(field) is serializers.ListField and type(field.child) in _UNCHANGED:
        item_kind, convert_item, convert_list = _UNCHANGED[type(field.child)], field.child.to_representation, \
            field.to_representation

        def render_items(value):  # ListField.to_representation, item by item, for a list
            if not isinstance(value, list):
                return convert_list(value)
            return [item if type(item) is item_kind or item is None else convert_item(item) for item in value]
        return render_items
    kind = _UNCHANGED.get(type(field))
    convert = field.to_representation
    if kind is None:
        return convert

    def render_simple(value):
        return value if type(value) is kind else convert(value)
    return render_simple


def _plan_renderer(serializer: serializers.Serializer) -> Callable:
    """A function rendering a payload for ``serializer`` (bound, fields built) the way its ``to_representation``
    does."""
    plan = []
    for field in serializer._readable_fields:
        key = field.source_attrs[0] if len(field.source_attrs) == 1 else None
        # an absent key: skipped when DRF's get_attribute would skip it (no default, no null, not required)
        skip_absent = field.default is empty and not field.allow_null and not field.required
        plan.append((field.field_name, key, skip_absent, field, _field_renderer(field)))
    fallback = serializer.to_representation

    def render(instance):
        if not isinstance(instance, Mapping):
            return fallback(instance)
        body = {}
        for name, key, skip_absent, field, render_value in plan:
            if key is not None and key in instance and not callable(value := instance[key]):
                pass
            elif skip_absent and key is not None and key not in instance:
                continue
            else:
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
            if value is None:
                body[name] = None
            elif render_value is None:
                body[name] = value
            else:
                body[name] = render_value(value)
        return body
    return render


def _bound_renderer(serializer_class: type[serializers.BaseSerializer], many: bool) -> Callable:
    key = (serializer_class, many)
    renderer = _bound.get(key)
    if renderer is None:
        with _lock:
            renderer = _bound.get(key)
            if renderer is None:
                serializer = serializer_class(many=many)
                renderer = _field_renderer(serializer)  # fields built once, before the renderer is shared
                _bound[key] = renderer
    return renderer


def output_data(serializer_class: type[serializers.BaseSerializer], payload, *, many: bool = False):
    """``serializer_class(payload, many=many).data``, without building the serializer's fields again."""
    return _bound_renderer(serializer_class, many)(payload)
