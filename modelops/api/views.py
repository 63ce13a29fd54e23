"""Model endpoints: one APIView per operation; uploads, reload, rollback and the opcode audit need ops staff."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cadml_site.api.base import SensitiveApi, validated
from cadml_site.api.permissions import READ, ApiKeyScopePermits, HasOperationPermission, IsOpsStaff, actor_name
from cadml_site.api.upload_limits import UploadSizeLimitedApi
from modelops import selectors, services
from modelops.api import serializers as s
from modelops.errors import NoActiveModel
from modelops.security.errors import SizeExceeded

TAGS = ["model"]
REFUSED = OpenApiResponse(description=(
    "application/problem+json with code size_exceeded (413), magic_invalid (415), hash_mismatch (409), "
    "model_file_missing (404: no such file in CADML_MODEL_DIR), model_file_refused (400), "
    "opcode_blocked / opcode_scan_error (422) or rollback (422: load or validation failed, the active model "
    "was kept); stage is intake, hash, scan, load, validate or swap; context has rule, offset, opcode, "
    "global, mode, sha256 and active_version."))


class ModelStatusApi(APIView):
    """Active version, sha256, loaded at, load sequence, scanner mode, previous versions, last error."""

    @extend_schema(operation_id="model_status", responses=s.ModelStatusOutput, tags=TAGS)
    def get(self, request):
        return Response(s.ModelStatusOutput(selectors.model_status()).data)


class ModelVersionUploadApi(UploadSizeLimitedApi, SensitiveApi):
    """Upload a model file (multipart); it is intake-checked, scanned and stored as a candidate. A body over
    CADML_MODEL_MAX_BYTES is refused (413 size_exceeded) while it streams in, before it is read whole."""

    required_permission = "modelops.upload_model"
    parser_classes = [MultiPartParser, FormParser]
    schema_links = {"post": {201: {"Reload": {"operationId": "model_reload",
                                              "requestBody": {"version": "$response.body#/label"}}}}}

    def upload_max_bytes(self) -> int:
        return settings.CADML_MODEL_MAX_BYTES

    def upload_refusal(self, size: int):
        return SizeExceeded("model file exceeds the size limit",
                                 context={"size": size, "limit": settings.CADML_MODEL_MAX_BYTES})

    @extend_schema(operation_id="model_version_upload", request={"multipart/form-data": s.ModelVersionUploadInput},
                   responses={201: s.ModelVersionOutput, 409: REFUSED, 413: REFUSED, 415: REFUSED, 422: REFUSED},
                   tags=TAGS)
    def post(self, request):
        v = validated(s.ModelVersionUploadInput, request.data)
        upload = v["file"]
        if upload.size > settings.CADML_MODEL_MAX_BYTES:
            raise self.upload_refusal(upload.size)
        version = services.model_version_upload(
            data=upload.read(), label=v["label"],
            feature_version=v["feature_version"], actor=actor_name(request),
            reason=v["reason"])
        return Response(s.ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class ModelVersionRegisterApi(SensitiveApi):
    """Register a file already in CADML_MODEL_DIR by its plain name (paths and links are refused)."""

    required_permission = "modelops.upload_model"

    @extend_schema(operation_id="model_version_register", request=s.ModelVersionRegisterInput,
                   responses={201: s.ModelVersionOutput, 400: REFUSED, 404: REFUSED, 409: REFUSED, 413: REFUSED,
                              415: REFUSED,
                              422: REFUSED}, tags=TAGS)
    def post(self, request):
        v = validated(s.ModelVersionRegisterInput, request.data)
        version = services.model_version_register_from_dir(actor=actor_name(request), **v)
        return Response(s.ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


def _now_active(request, input_serializer, service) -> Response:
    """A reload or a rollback: validate the body, call ``service`` as the requesting actor and answer with the
    version now active, the scanner mode and the load sequence."""
    version = service(actor=actor_name(request), **validated(input_serializer, request.data))
    return Response(s.ModelReloadOutput({"version": version, "mode": settings.CADML_MODEL_OPCODE_MODE,
                                "load_sequence": services.database_load_sequence()}).data)


class ModelReloadApi(SensitiveApi):
    """Load a version (intake, hash, scan, restricted load, validation, canary) and swap it in everywhere."""

    required_permission = "modelops.reload_model"

    @extend_schema(operation_id="model_reload", request=s.ModelReloadInput,
                   responses={200: s.ModelReloadOutput, 404: REFUSED, 409: REFUSED, 413: REFUSED, 415: REFUSED,
                              422: REFUSED}, tags=TAGS)
    def post(self, request):
        return _now_active(request, s.ModelReloadInput, services.model_reload)


class ModelRollbackApi(SensitiveApi):
    """Return to the previous version (two levels are kept)."""

    required_permission = "modelops.rollback_model"

    @extend_schema(operation_id="model_rollback", request=s.ModelRollbackInput,
                   responses={200: s.ModelReloadOutput, 409: REFUSED, 422: REFUSED}, tags=TAGS)
    def post(self, request):
        return _now_active(request, s.ModelRollbackInput, services.model_rollback)


class OpcodeAuditApi(APIView):
    """Opcodes and globals the scanner has seen in every mode, with counts and first/last seen."""

    permission_classes = [IsOpsStaff, HasOperationPermission, ApiKeyScopePermits]
    required_permission = "modelops.view_opcodeauditentry"

    @extend_schema(operation_id="model_opcode_audit", responses=s.OpcodeAuditOutput, tags=TAGS)
    def get(self, request):
        return Response(s.OpcodeAuditOutput(selectors.opcode_audit_summary()).data)


class ModelPredictApi(APIView):
    """Classify one feature vector with the active model."""

    api_key_access = READ  # a POST that only reads

    @extend_schema(operation_id="model_predict", request=s.ModelPredictInput,
                   responses={200: s.ModelPredictOutput,
                              422: OpenApiResponse(description="dimension_mismatch, vector_invalid, "
                                                               "feature_version_mismatch (the active model "
                                                               "classifies another feature version)"),
                              503: OpenApiResponse(description="no_active_model: no model is active, or "
                                                               "the database is down")}, tags=TAGS)
    def post(self, request):
        v = validated(s.ModelPredictInput, request.data)
        result = selectors.classify_vector(**v)
        if result is None:
            raise NoActiveModel("no active model for this feature version",
                                context={"feature_version": v["feature_version"]})
        return Response(s.ModelPredictOutput(result).data)
