"""Response bodies rendered by one bound output serializer per class and process.

DRF deep-copies a serializer's declared fields each time a serializer is built: for the analyze answer's nested
output serializers that was about a fifth of the request's CPU (docs/benchmarks.md, "Request overhead of the analyze
path"). An output serializer only renders (``to_representation``); its fields keep no state of a request (no
``context`` is read by the serializers rendered here), so one instance per class serves every request and thread.
Input serializers are not shared: validation keeps its data and errors on the instance.
"""

from __future__ import annotations

import threading

from rest_framework import serializers

_bound: dict[tuple[type, bool], serializers.BaseSerializer] = {}
_lock = threading.Lock()


def _bound_serializer(serializer_class: type[serializers.BaseSerializer], many: bool) -> serializers.BaseSerializer:
    key = (serializer_class, many)
    serializer = _bound.get(key)
    if serializer is None:
        with _lock:
            serializer = _bound.get(key)
            if serializer is None:
                serializer = serializer_class(many=many)
                _ = (serializer.child if many else serializer).fields  # built once, before it is shared
                _bound[key] = serializer
    return serializer


def output_data(serializer_class: type[serializers.BaseSerializer], payload, *, many: bool = False):
    """``serializer_class(payload, many=many).data``, without building the serializer's fields again."""
    return _bound_serializer(serializer_class, many).to_representation(payload)
