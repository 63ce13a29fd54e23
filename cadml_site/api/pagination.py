"""Limit/offset pagination that refuses to paginate an unordered queryset."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class OrderedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = settings.CADML_API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        ordered = getattr(queryset, "ordered", True)
        if not ordered:
            raise RuntimeError(f"{type(view).__name__} paginates an unordered queryset; give it an explicit order_by")
        return super().paginate_queryset(queryset, request, view)
