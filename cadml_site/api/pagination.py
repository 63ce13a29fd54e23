"""Limit/offset pagination that refuses to paginate an unordered queryset, and refuses a malformed limit or offset
(DRF's own pagination silently falls back to its defaults, which the schema does not say)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

from cadml_site.api.inputs import QueryInput


MAX_OFFSET = 2**53  # within every database's integer range (and JSON's exact integers)


class OrderedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = settings.CADML_API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        params = _PageInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        ordered = getattr(queryset, "ordered", True)
        if not ordered:
            raise RuntimeError(f"{type(view).__name__} paginates an unordered queryset; give it an explicit order_by")
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
                  self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET, "default": 0}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class _PageInput(QueryInput):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=settings.CADML_API_MAX_PAGE_SIZE)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)
