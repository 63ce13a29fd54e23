"""Who am I, and key management for ops staff (sensitive, audited)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cadml_site.api.base import SensitiveApi
from cadml_site.api.inputs import JsonInput
from cadml_site.api.models import ApiKeyScope
from cadml_site.api.permissions import actor_name
from cadml_site.api.services import api_key_issue, api_key_revoke


class WhoAmIOutput(serializers.Serializer):
    api_key_name = serializers.CharField()
    api_key_prefix = serializers.CharField()
    api_key_scope = serializers.ChoiceField(choices=ApiKeyScope.choices, help_text="read or read_write.")
    staff_user = serializers.CharField(allow_null=True)
    sensitive_operations_allowed = serializers.BooleanField()


class WhoAmIApi(APIView):
    """The credentials this request was authenticated with."""

    @extend_schema(operation_id="auth_whoami", responses=WhoAmIOutput, tags=["auth"])
    def get(self, request):
        credentials = request.auth
        token = credentials.admin_token
        data = {
            "api_key_name": credentials.api_key.name,
            "api_key_prefix": credentials.api_key.prefix,
            "api_key_scope": credentials.api_key.scope,
            "staff_user": token.user.get_username() if token else None,
            "sensitive_operations_allowed": bool(token and token.user.is_active and token.user.is_staff),
        }
        return Response(WhoAmIOutput(data).data)


class ApiKeyIssueInput(JsonInput):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=ApiKeyScope.choices, help_text=(
        "read: every read operation, 403 on writes; read_write: reads and writes. Required: choose it on purpose. "
        "Fixed for the key's life (issue another key to change it)."))
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ApiKeyIssueOutput(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scope = serializers.ChoiceField(choices=ApiKeyScope.choices)
    secret = serializers.CharField(help_text="Shown once; only its hash is stored.")


class ApiKeyIssueApi(SensitiveApi):
    """Issue a new API key (sensitive). The secret is in this response only."""

    required_permission = "cadml_api.issue_credential"
    problem_statuses = {409: "name_taken: an API key of that name exists"}
    schema_links = {"post": {201: {"RevokeApiKey": {"operationId": "auth_api_key_revoke",
                                                    "parameters": {"prefix": "$response.body#/prefix"}}}}}

    @extend_schema(operation_id="auth_api_key_issue", request=ApiKeyIssueInput,
                   responses={201: ApiKeyIssueOutput}, tags=["auth"])
    def post(self, request):
        data = ApiKeyIssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = api_key_issue(name=data.validated_data["name"], scope=data.validated_data["scope"],
                                    actor=actor_name(request), reason=data.validated_data["reason"])
        return Response(ApiKeyIssueOutput({"name": key.name, "prefix": key.prefix, "scope": key.scope,
                                           "secret": secret}).data,
                        status=status.HTTP_201_CREATED)


class ApiKeyRevokeInput(JsonInput):
    reason = serializers.CharField(max_length=2000)


class ApiKeyRevokeOutput(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    revoked_at = serializers.DateTimeField()


class ApiKeyRevokeApi(SensitiveApi):
    """Revoke an API key (sensitive, audited). Requests with it answer 401 from then on."""

    required_permission = "cadml_api.revoke_credential"

    @extend_schema(operation_id="auth_api_key_revoke", request=ApiKeyRevokeInput, responses=ApiKeyRevokeOutput,
                   tags=["auth"])
    def post(self, request, prefix: str):
        data = ApiKeyRevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = api_key_revoke(prefix=prefix, actor=actor_name(request), reason=data.validated_data["reason"])
        return Response(ApiKeyRevokeOutput(key).data)



