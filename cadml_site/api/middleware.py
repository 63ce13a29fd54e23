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


class NulInUrlMiddleware:
    """A NUL character in an API path is a 404: nothing is named so. No database stores NUL in text (Postgres
    refuses it), so such a path parameter used to fail in the query with a 500. (Query parameters are read by
    serializers, which refuse NUL.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and "\x00" in request.path:
            from cadml_site.api.exceptions import plain_problem

            return plain_problem(404, "Not found", "not_found", "No endpoint or object is named with NUL.")
        return self.get_response(request)
