"""Features API: analyze a CAD file, read an analysis, list feature versions and slots."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.fields import empty
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cadml_site.api.permissions import READ, WRITE
from cadml_site.api.upload_limits import UploadSizeLimitedApi
from features import selectors, services
from features.api import serializers as s
from features.file_responses import not_modified_response, stored_file_response
from features.extractors import slot_names
from vectors.selectors import served_feature_version

TAGS = ["features"]
PROBLEM = "application/problem+json: {type, title, status, detail, code, stage, message, context, timestamp, request_id}"


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
        return services.upload_refused(size)

    # API key scopes: analyze writes (a read_write key) when it registers the vector, which is the default;
    # with register_vector=false it only records the caller's own analysis, which a read key may do.
    api_key_access_note = "write when register_vector is true (the default); read with register_vector=false"

    def api_key_access_for(self, request) -> str:
        if not request.content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return WRITE  # a body the view will refuse (415): judged as the write it may be, without parsing it
        field = s.AnalysisCreateInputSerializer().fields["register_vector"]
        try:
            registers = field.run_validation(request.data.get("register_vector", empty))
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
            data=services.upload_read(upload=upload),
            name=upload.name or "",
            feature_version=data.get("feature_version"),
            register_vector=data["register_vector"],
            classify=data["classify"],
            similar_k=data["similar_k"],
            vector_key=data.get("vector_key"),
            match=data["match"],
            mirror=data["mirror"],
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
        versions = selectors.feature_version_list(default=served_feature_version())
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
        return Response(s.FeatureSlotOutputSerializer(selectors.feature_slot_list(version=version), many=True).data)


def _etag_matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


class FileContentApi(APIView):
    """The uploaded original of a CAD file, byte-exact, by the sha256 of its content."""

    def perform_content_negotiation(self, request, force=False):
        # The success body is the file itself (any Accept is fine); errors are problem+json whatever was asked.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=TAGS,
        operation_id="files_content",
        description=(
            "Download the original of an uploaded CAD file, exactly as it was uploaded. Content-Type is the format's "
            "media type (image/vnd.dxf, model/stl, model/step, model/iges, model/obj), Content-Disposition names "
            "the original file, ETag is the quoted sha256 (If-None-Match answers 304) and Content-Length its size. "
            "Files uploaded before originals were kept answer 404 `original_not_stored` until uploaded again."),
        parameters=[OpenApiParameter("sha256", str, OpenApiParameter.PATH,
                                     description="sha256 of the file's content (64 hex digits), as `file.sha256` of "
                                                 "an analysis or `meta.cad_file` of a vector.")],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The original."),
            304: OpenApiResponse(description="If-None-Match matched the ETag: the client's copy is current."),
            401: OpenApiResponse(description=f"Missing, wrong or revoked X-API-Key. {PROBLEM}"),
            404: OpenApiResponse(description=f"`cad_file_not_found` (no upload with this sha256) or "
                                             f"`original_not_stored` (uploaded before originals were kept). {PROBLEM}"),
            429: OpenApiResponse(description=f"Throttled (Retry-After). {PROBLEM}"),
            503: OpenApiResponse(description=f"`original_storage_unavailable` (Retry-After). {PROBLEM}"),
        },
    )
    def get(self, request, sha256: str):
        cad_file = selectors.cad_file_get(sha256=sha256)
        etag = f'"{cad_file.sha256}"'
        if cad_file.has_original and _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return not_modified_response(etag)
        original = selectors.cad_file_original(sha256=cad_file.sha256)
        response = stored_file_response(original, attachment=True, etag=etag, cache=True)
        response["Content-Length"] = str(cad_file.size)
        return response


class FileThumbnailApi(APIView):
    """A small PNG picture of a stored part, rendered server-side after upload (`features.thumbnails`)."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=TAGS,
        operation_id="files_thumbnail",
        description=(
            "A 256x256 PNG thumbnail of an uploaded CAD file: 3D parts shaded from a fixed view, drawings as their "
            "own paths. Rendered by a background task after the upload commits (in process in the embedded "
            "default); until then 404 `thumbnail_not_ready` with `context.reason` pending. ETag is the quoted "
            "`<sha256>.thumb` (If-None-Match answers 304); Cache-Control private, one day."),
        parameters=[OpenApiParameter("sha256", str, OpenApiParameter.PATH,
                                     description="sha256 of the file's content (64 hex digits).")],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The PNG thumbnail."),
            304: OpenApiResponse(description="If-None-Match matched the ETag: the client's copy is current."),
            401: OpenApiResponse(description=f"Missing, wrong or revoked X-API-Key. {PROBLEM}"),
            404: OpenApiResponse(description=f"`cad_file_not_found` (no upload with this sha256) or "
                                             f"`thumbnail_not_ready` (`context.reason`: pending, render_failed, "
                                             f"original_not_stored, missing). {PROBLEM}"),
            429: OpenApiResponse(description=f"Throttled (Retry-After). {PROBLEM}"),
            503: OpenApiResponse(description=f"`original_storage_unavailable` (Retry-After). {PROBLEM}"),
        },
    )
    def get(self, request, sha256: str):
        cad_file = selectors.cad_file_get(sha256=sha256)
        etag = selectors.thumbnail_etag(cad_file)
        if cad_file.has_thumbnail and _etag_matches(request.headers.get("If-None-Match", ""), etag):
            return not_modified_response(etag, cache=True)
        thumbnail = selectors.cad_file_thumbnail(sha256=cad_file.sha256)
        return stored_file_response(thumbnail, attachment=False, etag=etag, cache=True)
