"""Site middleware.

``RequestIdMiddleware`` accepts a sane ``X-Request-ID`` or creates one, and returns it on the response.
``DatabaseUnavailableMiddleware`` answers 503 ``database_unavailable`` (with Retry-After) for a view outside DRF
(admin, landing page, metrics) that fails because the database cannot be reached; DRF views get the same answer
from the problem handler, and errors raised by other middleware from ``handler500``.
"""

from __future__ import annotations

import logging
import re
import uuid

from cadml_site.api.exceptions import database_unavailable_response, is_database_unavailable
from cadml_site.request_context import bind_request_id, current_request_id, reset_request_id

logger = logging.getLogger("cadml.api")

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

            return plain_problem("not_found", "No endpoint or object is named with NUL.")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        logger.warning("Database unavailable while serving request %s (%s): %s", current_request_id(), request.path,
                       type(exception).__name__)
        return database_unavailable_response(surface="site")
