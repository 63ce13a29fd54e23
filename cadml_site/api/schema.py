"""OpenAPI descriptions of our authentication (loaded by drf-spectacular through the app's ready())."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from cadml_site.api.authentication import ADMIN_TOKEN_HEADER, API_KEY_HEADER


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cadml_site.api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyAuth", "AdminTokenAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
             "description": "Every /api/v1/ endpoint except health. Create one with `manage.py create_api_key NAME`."},
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
