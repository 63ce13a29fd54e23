"""Base API views."""

from __future__ import annotations

from rest_framework.views import APIView

from cadml_site.api.permissions import ApiKeyScopePermits, HasOperationPermission, IsOpsStaff


class SensitiveApi(APIView):
    """A sensitive operation: X-API-Key and the X-Admin-Token of active staff whose user holds the Django permission
    named by ``required_permission`` (each subclass names one; the matching admin action requires the same),
    throttled at the sensitive rate."""

    permission_classes = [IsOpsStaff, HasOperationPermission, ApiKeyScopePermits]
    throttle_scope = "sensitive"
    required_permission: str | None = None


def validated(serializer_class, data) -> dict:
    """``data`` (a request body or query string) checked by ``serializer_class``; a 400 problem when it is not valid."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
