"""The OpenAPI schema tells the truth: our authentication, every error status an operation answers, and the
request constraints the service enforces.

One mechanism, ``CadmlAutoSchema`` (``DEFAULT_SCHEMA_CLASS``), derives from each view what every operation can
answer besides its success, so that a new operation is honest without anyone remembering to declare the usual
statuses:

* **401** for every operation that is not ``AllowAny`` (``WWW-Authenticate`` header);
* **403** where the operation needs the admin token of staff (the permission class says so through
  ``needs_staff(method)``) and the Django permission the view names, and where it writes (a ``read`` API key
  gets 403 ``api_key_scope_insufficient``);
* ``x-api-key-scope`` (``read`` or ``read_write``) and a sentence in the description of every keyed operation;
* **429** where the view is throttled (``Retry-After``);
* **400** where the operation reads a body or query parameters (``validation_failed``, ``malformed_request``);
  **413** and **415** where it reads a body; **422** ``invalid_text`` where it reads JSON (parsers.py);
* **404** where the path names an object;
* **503** for every operation that reads the database, through authentication or otherwise (``Retry-After``);
* OpenAPI links from ``schema_links`` on the view (what a response leads to, for clients and stateful fuzzing);
* plus what the view declares: ``problem_statuses = {409: "codes..."}`` on the class (or per method,
  ``{"post": {409: "..."}}``), or ``@extend_schema(responses={409: OpenApiResponse(description=...)})``.

Every 4xx/5xx response is ``application/problem+json`` with the ``Problem`` body (see exceptions.py). Request
bodies say what the serializers enforce: strings that may not be blank cannot be all whitespace, no string may
hold a NUL character (DRF refuses both), a serializer may state which fields are alternatives
(``schema_one_of``/``schema_any_of``), and a field may give its own schema (``openapi_schema(direction)``).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from cadml_site.api.authentication import ADMIN_TOKEN_HEADER, API_KEY_HEADER
from cadml_site.api.exceptions import PROBLEM_CONTENT_TYPE

BODY_METHODS = ("POST", "PUT", "PATCH")
# A string DRF accepts: no NUL character; when blank is not allowed, at least one non-whitespace character
# (DRF trims whitespace before the blank check).
NO_NUL_PATTERN = r"^[^\x00]*$"
NOT_BLANK_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"

# status -> description of the codes our handler answers with it
GENERIC_PROBLEMS: dict[int, str] = {
    400: "validation_failed (errors[] names each field), malformed_request (unparsable body)",
    401: "not_authenticated, api_key_missing, api_key_invalid, api_key_revoked, admin_token_invalid, "
         "admin_token_revoked, admin_token_inactive_user",
    403: "admin_token_required (X-Admin-Token missing), not_staff (the token's user is not active staff), "
         "permission_required (the staff user lacks this operation's permission), api_key_scope_insufficient "
         "(a read key on a write)",
    404: "not_found, or the object named in the path does not exist",
    413: "payload_too_large: the body is larger than the server accepts",
    415: "unsupported_media_type: the body's Content-Type is not one this operation reads",
    422: "invalid_text: a string holds a NUL character or an unpaired surrogate, which no database stores",
    429: "throttled: the API key's budget for this scope is spent; Retry-After says when to come back",
    503: "a dependency (the database) is down; Retry-After says when to retry",
}


class ProblemFieldError(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class Problem(serializers.Serializer):
    """RFC 9457 problem details with our fields (cadml_site.api.exceptions.problem_body)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    stage = serializers.CharField(help_text="Where the request failed (request, validation, intake, ...).")
    message = serializers.CharField()
    context = serializers.DictField(help_text="Details of this error (field, limits, ids...).")
    timestamp = serializers.DateTimeField()
    request_id = serializers.CharField(allow_null=True)
    errors = ProblemFieldError(many=True, required=False, help_text="Validation errors, one per field.")


def _problem_header(name: str, description: str) -> dict:
    return {name: {"schema": {"type": "string"}, "description": description}}


HEADERS_BY_STATUS = {
    401: _problem_header("WWW-Authenticate", "ApiKey realm=\"cadml\", header=\"X-API-Key\""),
    429: _problem_header("Retry-After", "Seconds to wait before the next request."),
    503: _problem_header("Retry-After", "Seconds to wait before retrying."),
}


def needs_staff(view, method: str) -> bool:
    """Whether ``method`` on ``view`` needs X-Admin-Token of active staff (a permission says ``needs_staff``)."""
    return any(getattr(permission, "needs_staff", lambda m: False)(method.upper())
               for permission in view.get_permissions())


def is_open(view) -> bool:
    return all(isinstance(permission, AllowAny) for permission in view.get_permissions())


def declared_problem_statuses(view, method: str) -> dict[int, str]:
    """``problem_statuses`` of the view: ``{status: description}``, or ``{"post": {status: description}}``."""
    declared = getattr(view, "problem_statuses", None) or {}
    per_method = declared.get(method.lower())
    if isinstance(per_method, dict):
        return dict(per_method)
    return {status: text for status, text in declared.items() if isinstance(status, int)}


def _is_query_parameter(parameter) -> bool:
    if isinstance(parameter, serializers.Serializer) or (
            isinstance(parameter, type) and issubclass(parameter, serializers.Serializer)):
        return True  # a serializer given as parameters: its fields are query parameters
    return getattr(parameter, "location", None) == "query"


def declared_links(view, method: str) -> dict[int, dict]:
    """OpenAPI links of ``view`` for ``method``: ``schema_links = {"post": {201: {name: link}}}``.

    A link says which operation a response leads to and where its parameters come from (``$response.body#/id``);
    clients and stateful testing (schemathesis) follow them.
    """
    return dict((getattr(view, "schema_links", None) or {}).get(method.lower(), {}))


SCOPE_EXTENSION = "x-api-key-scope"


class CadmlAutoSchema(AutoSchema):
    # ---- API key scope ------------------------------------------------------------------------------------------
    def api_key_scope(self) -> str | None:
        """``read`` or ``read_write`` for an operation behind an API key; None for an open one (health)."""
        from cadml_site.api.permissions import WRITE, ApiKeyScopePermits, declared_access

        if not any(isinstance(p, ApiKeyScopePermits) for p in self.view.get_permissions()):
            return None
        if getattr(self.view, "api_key_access_note", None) or declared_access(self.view, self.method) == WRITE:
            return "read_write"
        return "read"

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        scope = self.api_key_scope() if operation is not None else None
        if scope is None:
            return operation
        note = getattr(self.view, "api_key_access_note", None)
        if note:
            sentence = f"API key scope: read_write when it writes ({note})."
        elif scope == "read_write":
            sentence = "API key scope: read_write (a read key gets 403)."
        else:
            sentence = "API key scope: read (any key)."
        operation[SCOPE_EXTENSION] = scope
        operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{sentence}".lstrip()
        return operation

    # ---- responses ----------------------------------------------------------------------------------------------
    def _problem_ref(self) -> dict:
        return self.resolve_serializer(Problem, "response").ref

    def implied_problem_statuses(self) -> dict[int, str]:
        """Error statuses this operation answers by construction (see the module docstring)."""
        view, method = self.view, self.method.upper()
        statuses: dict[int, str] = {}
        has_body = method in BODY_METHODS and self.get_request_serializer() is not None
        reads_query = any(_is_query_parameter(p) for p in self.get_override_parameters()) or bool(
            self._get_pagination_parameters())
        if has_body or reads_query:
            statuses[400] = GENERIC_PROBLEMS[400]
        if not is_open(view):
            statuses[401] = GENERIC_PROBLEMS[401]
            statuses[503] = GENERIC_PROBLEMS[503]
        if needs_staff(view, method) or self.api_key_scope() == "read_write":
            statuses[403] = GENERIC_PROBLEMS[403]
        if "{" in self.path:
            statuses[404] = GENERIC_PROBLEMS[404]
        if has_body:
            statuses[413] = GENERIC_PROBLEMS[413]
            statuses[415] = GENERIC_PROBLEMS[415]
            if "application/json" in self.map_parsers():
                statuses[422] = GENERIC_PROBLEMS[422]
        if view.get_throttles():
            statuses[429] = GENERIC_PROBLEMS[429]
        statuses.update(declared_problem_statuses(view, method))
        return statuses

    def _problem_response(self, description: str, status: int) -> dict:
        response = {"description": description,
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": self._problem_ref()}}}
        if status in HEADERS_BY_STATUS:
            response["headers"] = dict(HEADERS_BY_STATUS[status])
        return response

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in responses.items():
            if code[:1] in "45" and not response.get("content"):
                description = response.get("description") or ""
                responses[code] = {**self._problem_response(description, int(code)), **{
                    k: v for k, v in response.items() if k not in ("description", "content")}}
        for status, description in self.implied_problem_statuses().items():
            code = str(status)
            if code in responses:
                continue
            responses[code] = self._problem_response(description, status)
        for status, links in declared_links(self.view, self.method).items():
            if str(status) in responses:
                responses[str(status)]["links"] = links
        return dict(sorted(responses.items()))

    # ---- request bodies -----------------------------------------------------------------------------------------
    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # a body of alternatives (oneOf/anyOf) needs one of them: an absent body is refused, so it is required
        if any(getattr(serializer, f"schema_{k}", None) for k in ("one_of", "any_of")):
            required = True
        return schema, required

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        own = getattr(field, "openapi_schema", None)
        if callable(own):
            return own(direction)
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(schema, dict) and {} in schema.get("oneOf", []):
            # drf-spectacular renders JSONField(allow_null=True) under 3.1 as oneOf [{}, {type: null}]: null
            # matches both, so oneOf refuses it. Any JSON value, null included, is {}.
            schema.pop("oneOf")
        if (direction == "request" and isinstance(field, serializers.FileField) and isinstance(schema, dict)
                and not field.allow_empty_file):
            schema["minLength"] = 1
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # after drf-spectacular's own validators (it wraps a blank-allowing string that has a pattern in
        # oneOf [{...}, {maxLength: 0}], where "" matches both and oneOf refuses it: our patterns admit "" already)
        if (getattr(self, "_cadml_direction", None) == "request" and schema.get("type") == "string"
                and "pattern" not in schema and "format" not in schema and isinstance(field, serializers.CharField)
                and not isinstance(field, (serializers.RegexField, serializers.ChoiceField))):
            schema["pattern"] = NO_NUL_PATTERN if field.allow_blank else NOT_BLANK_PATTERN

    def _map_basic_serializer(self, serializer, direction):
        self._cadml_direction = direction  # read by _insert_field_validators, which is not told the direction
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            for keyword in ("one_of", "any_of"):
                alternatives = getattr(serializer, f"schema_{keyword}", None)
                if alternatives:
                    schema["oneOf" if keyword == "one_of" else "anyOf"] = [dict(a) for a in alternatives]
        return schema


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cadml_site.api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyAuth", "AdminTokenAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
             "description": "Every /api/v1/ endpoint except health. A key has a scope: `read` (every read "
                            "operation; 403 `api_key_scope_insufficient` on every write) or `read_write`. Each "
                            "operation names the scope it needs in `x-api-key-scope` and in its description. Create "
                            "one with `manage.py create_api_key NAME --scope read|read_write` or `POST "
                            "/api/v1/auth/api-keys/`."},
            {"type": "apiKey", "in": "header", "name": ADMIN_TOKEN_HEADER,
             "description": "Sensitive operations, together with X-API-Key. Create one with "
                            "`manage.py create_admin_token USERNAME` for an active staff user."},
        ]

    def get_security_requirement(self, auto_schema):
        if needs_staff(auto_schema.view, auto_schema.method):
            return {"ApiKeyAuth": [], "AdminTokenAuth": []}
        return {"ApiKeyAuth": []}
