"""Analysis API: analyze a CAD file, read an analysis, list the feature versions and slots (their default is the
served version, which vectors holds). Paths and operationIds are the ones the features app answered before."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.fields import empty
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import selectors, services
from analysis.api import serializers as s
from cadml_site.api.output import output_data
from cadml_site.api.permissions import READ, WRITE
from cadml_site.api.upload_limits import UploadSizeLimitedApi
from features.extractors import slot_names
from features.selectors import feature_slot_list, feature_version_list
from features.services import upload_read, upload_refused
from vectors.selectors import served_feature_version

TAGS = ["features"]  # the tag these operations had under the features app: the OpenAPI document is unchanged


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
            "original_stored": cad_file.has_original,
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


class AnalysisCreateApi(UploadSizeLimitedApi, APIView):
    """Upload a CAD file (DXF, STL, STEP, IGES, OBJ): parse it (once per content), extract a feature vector,
    register it, and optionally classify it and list similar parts."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"
    schema_links = {"post": {201: {"GetAnalysis": {"operationId": "analyze_retrieve",
                                                   "parameters": {"analysis_id": "$response.body#/id"}}}}}
    problem_statuses = {
        413: "file_too_large / payload_too_large: the file is larger than CADML_MAX_UPLOAD_BYTES",
        415: "unsupported_format: the content is not a CAD file of a supported format (sniffed, not the name)",
        422: "the file is corrupt, empty, or its parse crashed or timed out; match_needs_v5: match (duplicate, "
             "shape) asked of a version other than v5",
        409: "needs_source: v5 asked for a file whose stored summary predates v5 and cannot be described again",
        503: "parser_unavailable: no parse worker is available; original_storage_unavailable: the originals "
             "storage refused the write; or the database is down",
    }

    def upload_max_bytes(self) -> int:
        return settings.CADML_UPLOAD_MAX_BYTES

    def upload_refusal(self, size: int):
        return upload_refused(size)

    # API key scopes: analyze writes (a read_write key) when it registers the vector, which is the default;
    # with register_vector=false it only records the caller's own analysis, which a read key may do.
    api_key_access_note = "write when register_vector is true (the default); read with register_vector=false"

    def api_key_access_for(self, request) -> str:
        if not request.content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return WRITE  # a body the view will refuse (415): judged as the write it may be, without parsing it
        try:
            registers = s.REGISTER_VECTOR_FIELD.run_validation(request.data.get("register_vector", empty))
        except (ValidationError, ParseError):
            registers = True  # unreadable: judged as the write it may be (the serializer answers 400 later)
        return WRITE if registers else READ

    @extend_schema(
        tags=TAGS,
        operation_id="analyze_create",
        request={"multipart/form-data": s.AnalysisCreateInputSerializer},
        responses={201: s.AnalysisOutputSerializer},
    )
    def post(self, request):
        # an oversized upload was refused while it streamed in (UploadSizeLimitedApi), before Django stored it
        serializer = s.AnalysisCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        analysis = services.analysis_create(
            data=upload_read(upload=upload),
            name=upload.name or "",
            feature_version=data.get("feature_version"),
            register_vector=data["register_vector"],
            classify=data["classify"],
            similar_k=data["similar_k"],
            vector_key=data.get("vector_key"),
            match=data["match"],
            mirror=data["mirror"],
        )
        return Response(output_data(s.AnalysisOutputSerializer, analysis_payload(analysis)),
                        status=status.HTTP_201_CREATED)


class AnalysisDetailApi(APIView):
    @extend_schema(tags=TAGS, operation_id="analyze_retrieve", responses={200: s.AnalysisOutputSerializer})
    def get(self, request, analysis_id: int):
        analysis = selectors.analysis_get(analysis_id=analysis_id)
        return Response(output_data(s.AnalysisOutputSerializer, analysis_payload(analysis)))


class FeatureVersionListApi(APIView):
    @extend_schema(tags=TAGS, operation_id="features_versions",
                   responses={200: s.FeatureVersionOutputSerializer(many=True)})
    def get(self, request):
        versions = feature_version_list(default=served_feature_version())
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
        version = query.validated_data.get("version") or served_feature_version()
        return Response(s.FeatureSlotOutputSerializer(feature_slot_list(version=version), many=True).data)
