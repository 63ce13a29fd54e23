"""An upload handler that refuses an oversized upload while it streams in, before it fills a disk or memory.

Django's `FILE_UPLOAD_MAX_MEMORY_SIZE` only decides between memory and a temporary file; nothing stops a
10 GB upload. This handler answers 413 as soon as the declared request size, or the bytes actually
received for the file, exceed `CADML_UPLOAD_MAX_BYTES` (plus a small allowance for the multipart framing).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from cadml_site.metrics import CAD_PARSE_FAILURES
from features.services import upload_too_large

MULTIPART_ALLOWANCE = 64 * 1024


class UploadSizeLimitHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = settings.CADML_UPLOAD_MAX_BYTES
        if content_length and content_length > limit + MULTIPART_ALLOWANCE:
            CAD_PARSE_FAILURES.labels(format="unknown", reason="file_too_large").inc()
            raise upload_too_large(content_length)
        self.received = 0
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.received > settings.CADML_UPLOAD_MAX_BYTES:
            CAD_PARSE_FAILURES.labels(format="unknown", reason="file_too_large").inc()
            raise upload_too_large(self.received)
        return raw_data  # pass the chunk on to Django's own handlers

    def file_complete(self, file_size):
        return None
