"""Features API: the stored originals and thumbnails of CAD files (analyze, the feature versions and slots are the
analysis app's API, `analysis.api.views`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from features import selectors
from features.file_responses import not_modified_response, stored_file_response

TAGS = ["features"]
PROBLEM = "application/problem+json: {type, title, status, detail, code, stage, message, context, timestamp, request_id}"


def _etag_matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


class _StoredFileApi(APIView):
    """Answers with a stored file: the success body is the file itself (any Accept is fine); errors are
    problem+json whatever was asked."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class FileContentApi(_StoredFileApi):
    """The uploaded original of a CAD file, byte-exact, by the sha256 of its content."""

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


class FileThumbnailApi(_StoredFileApi):
    """A small PNG picture of a stored part, rendered server-side after upload (`features.thumbnails`)."""

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
