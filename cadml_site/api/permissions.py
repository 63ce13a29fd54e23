"""Who may do what. Every endpoint is closed unless its view says ``AllowAny``."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from cadml_site.api.authentication import ADMIN_TOKEN_HEADER, Credentials
from cadml_site.api.models import ApiKeyScope

READ = "read"
WRITE = "write"


def _credentials(request) -> Credentials | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, Credentials) else None


class HasApiKey(BasePermission):
    """A valid, unrevoked API key."""

    message = "This endpoint needs a valid X-API-Key header."

    def has_permission(self, request, view) -> bool:
        return _credentials(request) is not None


class IsOpsStaff(BasePermission):
    """Sensitive operations: a valid API key and the admin token of an active staff user."""

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


def required_access(view, request) -> str:
    """``READ`` or ``WRITE``: what this request does, as far as API key scopes are concerned.

    A view decides with ``api_key_access_for(request)`` (e.g. analyze: a write only when it registers a vector),
    or declares ``api_key_access = READ`` for a POST that only reads (similarity search, predict); otherwise
    GET, HEAD and OPTIONS are reads and every other method is a write.
    """
    decide = getattr(view, "api_key_access_for", None)
    if decide is not None:
        return decide(request)
    return declared_access(view, request.method)


def declared_access(view, method: str) -> str:
    """The access a view declares for ``method`` without looking at the request body (used by the schema)."""
    declared = getattr(view, "api_key_access", None)
    if declared is not None:
        return declared
    return READ if method.upper() in SAFE_METHODS else WRITE


class ApiKeyScopePermits(BasePermission):
    """API key scopes: a ``read`` key gets 403 ``api_key_scope_insufficient`` on every write, whatever other
    credential (an admin token included) comes with it. Unauthenticated requests are left to the other
    permission classes (401). Every view that is not ``AllowAny`` lists this class (a test walks the URLconf)."""

    def has_permission(self, request, view) -> bool:
        credentials = _credentials(request)
        if credentials is None:
            return True  # not authenticated: HasApiKey / IsOpsStaff answer 401
        if required_access(view, request) == WRITE and credentials.api_key.scope != ApiKeyScope.READ_WRITE:
            raise _Forbidden("This API key is read-only; this operation writes. Use a key with the read_write "
                             "scope.", "api_key_scope_insufficient")
        return True


class HasOperationPermission(BasePermission):
    """Sensitive operations, after ``IsOpsStaff``: the admin token's user must also hold the Django permission the
    view names in ``required_permission`` (e.g. ``"modelops.reload_model"``), the same permission the matching
    admin action requires. Superusers hold every permission. A view that names none is refused (closed by default).
    Roles (groups holding these permissions): ``cadml_site/api/roles.py``."""

    def has_permission(self, request, view) -> bool:
        credentials = _credentials(request)
        if credentials is None or credentials.admin_token is None:
            return False  # IsOpsStaff, listed first, has answered already
        permission = getattr(view, "required_permission", None)
        if not permission:
            raise _Forbidden("This operation declares no required permission; it is closed.", "permission_undeclared")
        if not credentials.admin_token.user.has_perm(permission):
            raise _Forbidden(f"This operation needs the {permission!r} permission, which the admin token's user "
                             "does not have (ask a superuser for the role that grants it).", "permission_required")
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
