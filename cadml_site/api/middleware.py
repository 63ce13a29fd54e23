"""Request id middleware: accepts a sane ``X-Request-ID`` or creates one, and returns it on the response."""

from __future__ import annotations

import re
import uuid

from cadml_site.request_context import bind_request_id, reset_request_id

_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _ACCEPTABLE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = bind_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[self.header] = request_id
        return response
