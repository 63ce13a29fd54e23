"""Base API views."""

from __future__ import annotations

from rest_framework.views import APIView

from cadml_site.api.permissions import IsOpsStaff


class SensitiveApi(APIView):
    """A sensitive operation: X-API-Key and the X-Admin-Token of active staff, throttled at the sensitive rate."""

    permission_classes = [IsOpsStaff]
    throttle_scope = "sensitive"

