"""HTTP answers for a stored file (an original or its thumbnail), shared by the API, the admin and the search page.

Each caller keeps its own rules (who may fetch, whether the answer may be cached, whether an ETag is sent); this
module only turns a selector's ``StoredOriginal`` into a streaming response, so the headers are written in one place.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control

from features.selectors import StoredOriginal

CACHE_SECONDS = 86400  # a stored file never changes under its sha256: one day, private to the client


def _cached(response, etag: str | None, cache: bool):
    if etag is not None:
        response["ETag"] = etag
    if cache:
        patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    return response


def stored_file_response(stored: StoredOriginal, *, attachment: bool, etag: str | None = None,
                         cache: bool = False) -> FileResponse:
    """Stream ``stored``: as a download named after the original (``attachment``) or inline (a thumbnail)."""
    if attachment:
        response = FileResponse(stored.handle, as_attachment=True, filename=stored.filename,
                                content_type=stored.content_type)
    else:
        response = FileResponse(stored.handle, content_type=stored.content_type)
    return _cached(response, etag, cache)


def not_modified_response(etag: str, *, cache: bool = False) -> HttpResponseNotModified:
    """304 for a client whose If-None-Match holds ``etag``."""
    return _cached(HttpResponseNotModified(), etag, cache)
