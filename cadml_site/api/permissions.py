"""Who may do what. Every endpoint is closed unless its view says ``AllowAny``."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from cadml_site.api.authentication import ADMIN_TOKEN_HEADER, Credentials


def _credentials(request) -> Credentials | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, Credentials) else None


class HasApiKey(BasePermission):
    """A valid, unrevoked API key."""

    message = "This endpoint needs a valid X-API-Key header."

    def needs_staff(self, method: str) -> bool:  # read by the OpenAPI schema (cadml_site.api.schema)
        return False

    def has_permission(self, request, view) -> bool:
        return _credentials(request) is not None


class IsOpsStaff(BasePermission):
    """Sensitive operations: a valid API key and the admin token of an active staff user."""

    def needs_staff(self, method: str) -> bool:
        return True

    def has_permission(self, request, view) -> bool:
        credentials = _credentials(request)
        if credentials is None:
            return False  # 401: not authenticated at all
        if credentials.admin_token is None:
            raise _Forbidden(f"This operation is sensitive: it also needs an {ADMIN_TOKEN_HEADER} header.",
                             "admin_token_required")
        user = credentials.admin_token.user
        if not (user.is_active and user.is_staff):
            raise _Forbidden("The admin token's user is not staff.", "not_staff")
        return True


class _Forbidden(exceptions.PermissionDenied):
    def __init__(self, detail: str, problem_code: str) -> None:
        super().__init__(detail)
        self.problem_code = problem_code


def actor_name(request) -> str:
    """The name recorded in audit rows: the staff username, else ``api-key:<prefix>``."""
    credentials = _credentials(request)
    if credentials is None:
        return "anonymous"
    if credentials.admin_token is not None:
        return credentials.admin_token.user.get_username()
    return f"api-key:{credentials.api_key.prefix}"
