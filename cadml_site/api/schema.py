"""OpenAPI descriptions of our authentication (loaded by drf-spectacular through the app's ready()) and the
schema class that states, per operation, the API key scope it needs."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from cadml_site.api.authentication import ADMIN_TOKEN_HEADER, API_KEY_HEADER


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cadml_site.api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyAuth", "AdminTokenAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
             "description": "Every /api/v1/ endpoint except health. A key has a scope: `read` (every read "
                            "operation; 403 `api_key_scope_insufficient` on every write) or `read_write`. Each "
                            "operation names the scope it needs in `x-api-key-scope` and in its description. Create "
                            "one with `manage.py create_api_key NAME --scope read|read_write` or `POST "
                            "/api/v1/auth/api-keys/`."},
            {"type": "apiKey", "in": "header", "name": ADMIN_TOKEN_HEADER,
             "description": "Sensitive operations, together with X-API-Key. Create one with "
                            "`manage.py create_admin_token USERNAME` for an active staff user."},
        ]

    def get_security_requirement(self, auto_schema):
        from cadml_site.api.permissions import IsOpsStaff

        view = auto_schema.view
        permissions = [p for p in view.get_permissions()]
        if any(isinstance(p, IsOpsStaff) for p in permissions):
            return {"ApiKeyAuth": [], "AdminTokenAuth": []}
        return {"ApiKeyAuth": []}


SCOPE_EXTENSION = "x-api-key-scope"


class ScopedAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus for every operation behind an API key: ``x-api-key-scope`` (``read`` or
    ``read_write``), a sentence saying so in the description, and the 401/403 problem responses."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        from cadml_site.api.permissions import WRITE, ApiKeyScopePermits, declared_access

        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not any(isinstance(p, ApiKeyScopePermits) for p in self.view.get_permissions()):
            return operation  # AllowAny (health): no key, no scope
        note = getattr(self.view, "api_key_access_note", None)
        if note:
            scope, sentence = "read_write", f"API key scope: read_write when it writes ({note})."
        elif declared_access(self.view, method) == WRITE:
            scope, sentence = "read_write", "API key scope: read_write (a read key gets 403)."
        else:
            scope, sentence = "read", "API key scope: read (any key)."
        operation[SCOPE_EXTENSION] = scope
        operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{sentence}".lstrip()
        responses = operation.setdefault("responses", {})
        responses.setdefault("401", {"description": "application/problem+json: no, a wrong or a revoked credential "
                                                    "(not_authenticated, api_key_invalid, api_key_revoked, ...)."})
        forbidden = ["api_key_scope_insufficient (a read key on a write)"] if scope == "read_write" else []
        if self._needs_admin_token():
            forbidden.insert(0, "admin_token_required / not_staff (sensitive operation)")
        if forbidden:
            responses.setdefault("403", {"description": "application/problem+json: " + "; ".join(forbidden) + "."})
        return operation

    def _needs_admin_token(self) -> bool:
        from cadml_site.api.permissions import IsOpsStaff

        return any(isinstance(p, IsOpsStaff) or self.method in getattr(p, "sensitive_methods", ())
                   for p in self.view.get_permissions())
