"""Features API: analyze a CAD file, read an analysis, list feature versions and slots."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from features import selectors, services
from features.api import serializers as s
from features.api.upload_limits import UploadSizeLimitHandler
from features.extractors import slot_names

TAGS = ["features"]


def analysis_payload(analysis) -> dict:
    cad_file = analysis.cad_file
    sections = analysis.sections
    return {
        "id": analysis.pk,
        "created_at": analysis.created_at,
        "file": {
            "id": cad_file.pk,
            "name": cad_file.original_name,
            "sha256": cad_file.sha256,
            "size": cad_file.size,
            "format": cad_file.format,
            "parser": cad_file.parser,
            "parse_seconds": cad_file.parse_seconds,
            "created_at": cad_file.created_at,
        },
        "document": cad_file.summary,
        "features": {
            "version": analysis.feature_version,
            "dimension": len(analysis.values),
            "values": analysis.values,
            "slot_names": slot_names(analysis.feature_version),
        },
        "reused_file": analysis.reused_file,
        "duplicate_of": {
            "cad_file_id": cad_file.pk,
            "sha256": cad_file.sha256,
            "original_name": cad_file.original_name,
            "first_seen_at": cad_file.created_at,
        } if analysis.reused_file else None,
        "timings": analysis.timings,
        "cache": sections.get("cache", {}),
        "vector": sections.get("vector", {}),
        "similar": sections.get("similar", {}),
        "classification": sections.get("classification", {}),
    }


class AnalysisCreateApi(APIView):
    """Upload a CAD file (DXF, STL, STEP, IGES, OBJ): parse it (once per content), extract a feature vector,
    register it, and optionally classify it and list similar parts."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"
    schema_links = {"post": {201: {"GetAnalysis": {"operationId": "analyze_retrieve",
                                                   "parameters": {"analysis_id": "$response.body#/id"}}}}}
    problem_statuses = {
        413: "file_too_large / payload_too_large: the file is larger than CADML_MAX_UPLOAD_BYTES",
        415: "unsupported_format: the content is not a CAD file of a supported format (sniffed, not the name)",
        422: "the file is corrupt, empty, or its parse crashed or timed out",
        503: "parser_unavailable: no parse worker is available; or the database is down",
    }

    @extend_schema(
        tags=TAGS,
        operation_id="analyze_create",
        request={"multipart/form-data": s.AnalysisCreateInputSerializer},
        responses={201: s.AnalysisOutputSerializer},
    )
    def post(self, request):
        # refuse an oversized upload while it streams in (before Django writes it to a temporary file)
        request._request.upload_handlers.insert(0, UploadSizeLimitHandler(request._request))
        serializer = s.AnalysisCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        analysis = services.analysis_create(
            data=services.upload_read(upload=upload),
            name=upload.name or "",
            feature_version=data.get("feature_version"),
            register_vector=data["register_vector"],
            classify=data["classify"],
            similar_k=data["similar_k"],
            vector_key=data.get("vector_key"),
        )
        return Response(s.AnalysisOutputSerializer(analysis_payload(analysis)).data, status=status.HTTP_201_CREATED)


class AnalysisDetailApi(APIView):
    @extend_schema(tags=TAGS, operation_id="analyze_retrieve", responses={200: s.AnalysisOutputSerializer})
    def get(self, request, analysis_id: int):
        analysis = selectors.analysis_get(analysis_id=analysis_id)
        return Response(s.AnalysisOutputSerializer(analysis_payload(analysis)).data)


class FeatureVersionListApi(APIView):
    @extend_schema(tags=TAGS, operation_id="features_versions",
                   responses={200: s.FeatureVersionOutputSerializer(many=True)})
    def get(self, request):
        versions = selectors.feature_version_list(default=settings.CADML_FEATURE_VERSION)
        return Response(s.FeatureVersionOutputSerializer(versions, many=True).data)


class FeatureSlotListApi(APIView):
    @extend_schema(
        tags=TAGS,
        operation_id="features_slots",
        parameters=[s.FeatureSlotsInputSerializer],
        responses={200: s.FeatureSlotOutputSerializer(many=True)},
    )
    def get(self, request):
        query = s.FeatureSlotsInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = query.validated_data.get("version") or settings.CADML_FEATURE_VERSION
        return Response(s.FeatureSlotOutputSerializer(selectors.feature_slot_list(version=version), many=True).data)
