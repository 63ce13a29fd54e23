"""Our own schemathesis checks, loaded by the fuzz run through ``SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks``.

schemathesis' checks hold every response to the schema; these add what the schema cannot say:

* ``problem_details_fields``: every 4xx/5xx is ``application/problem+json`` whose body carries our fields
  (code, stage, message, context, timestamp) and the response's own status;
* ``no_secret_in_response``: no response, error or not, repeats the API key or admin token the request carried.
"""

from __future__ import annotations

import json

import schemathesis

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_FIELDS = ("code", "stage", "message", "context", "timestamp")
SECRET_HEADERS = ("X-API-Key", "X-Admin-Token")


def problem_defects(status: int, content_type: str, content: bytes) -> list[str]:
    """What an error response lacks to be one of our problem bodies (empty list: nothing)."""
    if status < 400:
        return []
    defects = []
    if content_type.split(";")[0].strip() != PROBLEM_CONTENT_TYPE:
        defects.append(f"content type is {content_type!r}, not {PROBLEM_CONTENT_TYPE}")
    try:
        body = json.loads(content or b"null")
    except ValueError:
        return [*defects, "the body is not JSON"]
    if not isinstance(body, dict):
        return [*defects, "the body is not a JSON object"]
    defects += [f"field {name!r} is missing" for name in PROBLEM_FIELDS if name not in body]
    if body.get("status") != status:
        defects.append(f"body status {body.get('status')!r} differs from the HTTP status {status}")
    if "context" in body and not isinstance(body["context"], dict):
        defects.append("context is not an object")
    return defects


def leaked_secrets(request_headers, content: bytes) -> list[str]:
    """Names of the credential headers whose value the response body repeats."""
    return [name for name in SECRET_HEADERS
            if (value := request_headers.get(name)) and value.encode() in (content or b"")]


@schemathesis.check
def problem_details_fields(ctx, response, case):
    content_type = (response.headers.get("content-type") or [""])[0]
    defects = problem_defects(response.status_code, content_type, response.content)
    if defects:
        raise AssertionError(f"{response.status_code} is not one of our problem bodies: " + "; ".join(defects))
    return None


@schemathesis.check
def no_secret_in_response(ctx, response, case):
    leaked = leaked_secrets(response.request.headers, response.content)
    if leaked:
        raise AssertionError(f"the response repeats the secret of {', '.join(leaked)}")
    return None
