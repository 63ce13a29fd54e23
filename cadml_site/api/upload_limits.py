"""Refuse an oversized multipart upload while it streams in, before it fills a disk or memory.

Django's `FILE_UPLOAD_MAX_MEMORY_SIZE` only decides between memory and a temporary file; nothing stops a
10 GB upload. `UploadSizeLimitHandler` answers 413 as soon as the declared request size, or the bytes actually
received for a file, exceed the view's limit (plus a small allowance for the multipart framing). Views take it on
with `UploadSizeLimitedApi`, which installs the handler before authentication, permissions or the view read the
body: `analyze` (CADML_UPLOAD_MAX_BYTES) and model uploads (CADML_MODEL_MAX_BYTES) share this one piece of code.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.uploadhandler import FileUploadHandler

MULTIPART_ALLOWANCE = 64 * 1024


class UploadSizeLimitHandler(FileUploadHandler):
    """Raises ``refuse(size)`` (a 413 ``DomainError``) once an upload is known to exceed ``limit`` bytes."""

    def __init__(self, request=None, *, limit: int, refuse: Callable[[int], Exception]) -> None:
        super().__init__(request)
        self.limit = limit
        self.refuse = refuse
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + MULTIPART_ALLOWANCE:
            raise self.refuse(content_length)  # nothing of the body has been read
        self.received = 0
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.received > self.limit:
            raise self.refuse(self.received)
        return raw_data  # pass the chunk on to Django's own handlers

    def file_complete(self, file_size):
        return None


class UploadSizeLimitedApi:
    """APIView mixin: multipart bodies over ``upload_max_bytes()`` are refused with ``upload_refusal(size)``
    while they stream in. The handler is installed first thing in ``initial()``, so that nothing (a permission
    that looks at a form field included) can read the body without it."""

    def upload_max_bytes(self) -> int:
        raise NotImplementedError

    def upload_refusal(self, size: int) -> Exception:
        raise NotImplementedError

    def initial(self, request, *args, **kwargs):
        request._request.upload_handlers.insert(0, UploadSizeLimitHandler(
            request._request, limit=self.upload_max_bytes(), refuse=self.upload_refusal))
        super().initial(request, *args, **kwargs)
