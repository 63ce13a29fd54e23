"""Base API views."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.views import APIView

from cadml_site.api.permissions import IsOpsStaff


class SensitiveApi(APIView):
    """A sensitive operation: X-API-Key and the X-Admin-Token of active staff, throttled at the sensitive rate."""

    permission_classes = [IsOpsStaff]
    throttle_scope = "sensitive"


class QueryInput(serializers.Serializer):
    """Input serializer of query parameters: ``?name=`` (empty) is refused unless the field allows blank.

    DRF reads form-style input and treats an empty value of an optional field as absent, so that
    ``?feature_version=`` would silently mean "the default"; the schema says the value is an enum, and so do we.
    """

    def to_internal_value(self, data):
        empty = sorted(name for name, field in self.fields.items()
                       if name in data and data.get(name) == "" and not getattr(field, "allow_blank", False))
        if empty:
            raise serializers.ValidationError({name: ["This parameter may not be empty."] for name in empty})
        return super().to_internal_value(data)
