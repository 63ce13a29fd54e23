"""Issue 16, "Auth, derived from the schema": every operation of /api/schema/, under six credential situations.

The walk reads the operations, their security requirements and their documented statuses from the generated schema
(nothing is listed by hand, so an operation added later is walked too) and calls each one with a dummy input:

=========================  =================================  ==========================================
persona                    operation needs the API key        operation also needs the admin token
=========================  =================================  ==========================================
no credentials             401 not_authenticated              401 not_authenticated
wrong key                  401 api_key_invalid                401 api_key_invalid
revoked key                401 api_key_revoked                401 api_key_revoked
key only                   passes authentication              403 admin_token_required
key + token of staff       passes authentication              passes authentication
key + token of non-staff   passes authentication              403 not_staff
=========================  =================================  ==========================================

"passes authentication" means: neither 401 nor 403, and a status the schema documents for the operation (2xx, or
the 4xx that the dummy input earns: 400 for an empty body, 404 for an object that does not exist, 409...). Every
status of the walk must be documented for its operation, every 401 carries WWW-Authenticate, every error is a
problem body, and no response body or log record of the whole walk contains any of the secrets used.
"""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.openapi import schema_operations

pytestmark = pytest.mark.django_db

PROBLEM_FIELDS = {"code", "stage", "message", "context", "timestamp"}
STAFF = {"ApiKeyAuth": [], "AdminTokenAuth": []}
DUMMY_PATH_VALUES = {"integer": "987654", "string": "no-such-thing"}


def _dummy_url(path: str, operation: dict) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = DUMMY_PATH_VALUES[parameter["schema"].get("type", "string")]
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def _call(client: APIClient, method: str, url: str, operation: dict):
    if method in ("post", "put", "patch"):
        content = operation.get("requestBody", {}).get("content", {})
        fmt = "json" if "application/json" in content or not content else "multipart"
        return getattr(client, method)(url, {}, format=fmt)
    return getattr(client, method)(url)


def _kind(operation: dict) -> str:
    security = operation.get("security", [])
    if security in ([], [{}]):
        return "open"
    return "staff" if STAFF in security else "key"


@pytest.fixture
def personas(make_api_key, make_staff_user, make_admin_token):
    """Credentials of the six situations; returns ({persona: headers}, every secret used)."""
    _, key = make_api_key("walker")
    revoked_row, revoked = make_api_key("walker-revoked")
    revoked_row.revoked_at = timezone.now()
    revoked_row.save()
    _, staff_token = make_admin_token(make_staff_user("ops-walker"))
    lapsed_user = make_staff_user("ops-lapsed")
    _, lapsed_token = make_admin_token(lapsed_user)
    lapsed_user.is_staff = False  # the token stays valid; the right it stood for is gone
    lapsed_user.save()
    wrong = key.split(".", 1)[0] + ".not-the-secret"
    headers = {
        "no credentials": {},
        "wrong key": {"HTTP_X_API_KEY": wrong},
        "revoked key": {"HTTP_X_API_KEY": revoked},
        "key only": {"HTTP_X_API_KEY": key},
        "key + staff token": {"HTTP_X_API_KEY": key, "HTTP_X_ADMIN_TOKEN": staff_token},
        "key + non-staff token": {"HTTP_X_API_KEY": key, "HTTP_X_ADMIN_TOKEN": lapsed_token},
    }
    return headers, [key, revoked, staff_token, lapsed_token, wrong]


EXPECTED = {  # persona -> operation kind -> (status, code) when authentication or permission decides
    "no credentials": {"key": (401, "not_authenticated"), "staff": (401, "not_authenticated")},
    "wrong key": {"key": (401, "api_key_invalid"), "staff": (401, "api_key_invalid")},
    "revoked key": {"key": (401, "api_key_revoked"), "staff": (401, "api_key_revoked")},
    "key only": {"staff": (403, "admin_token_required")},
    "key + staff token": {},
    "key + non-staff token": {"staff": (403, "not_staff")},
}


def test_auth_walk_over_every_operation_of_the_schema(anon_client, personas, caplog):
    caplog.set_level(logging.DEBUG)
    schema = anon_client.get("/api/schema/?format=json").json()
    headers, secrets = personas
    walked, outcomes = 0, {}
    for path, method, operation in schema_operations(schema):
        kind, documented = _kind(operation), {int(code) for code in operation["responses"]}
        url = _dummy_url(path, operation)
        for persona, credentials in headers.items():
            client = APIClient()
            client.credentials(**credentials)
            response = _call(client, method, url, operation)
            where = f"{method.upper()} {path} as {persona}: {response.status_code} {response.content[:300]!r}"
            walked += 1
            outcomes[(operation["operationId"], persona)] = response.status_code
            assert response.status_code in documented, "undocumented status, " + where
            assert response.status_code < 500, where
            for secret in secrets:
                assert secret.encode() not in response.content, "a secret in the response, " + where
            if response.status_code >= 400:
                assert response["Content-Type"] == "application/problem+json", where
                assert PROBLEM_FIELDS <= set(response.json()), where
            expected = EXPECTED[persona].get(kind)
            if kind == "open":
                assert response.status_code == 200, where
            elif expected is not None:
                assert (response.status_code, response.json()["code"]) == expected, where
            else:
                assert response.status_code not in (401, 403), where
            if response.status_code == 401:
                assert response["WWW-Authenticate"].startswith("ApiKey"), where
    operations = len(list(schema_operations(schema)))
    histogram = {}
    for (_, persona), status in outcomes.items():
        histogram.setdefault(persona, {}).setdefault(status, 0)
        histogram[persona][status] += 1
    print(f"auth walk: {operations} operations x {len(headers)} personas = {walked} requests")
    for persona, statuses in histogram.items():  # the figures recorded in docs/reliability.md
        print(f"  {persona}: " + ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items())))
    assert walked == operations * len(headers) and operations >= 37
    # the walk reached past authentication where it should: every key operation and every staff operation
    for operation_id, kind in ((op["operationId"], _kind(op)) for _, _, op in schema_operations(schema)):
        if kind in ("key", "staff"):
            assert outcomes[(operation_id, "key + staff token")] not in (401, 403), operation_id
    logged = caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    for secret in secrets:
        assert secret not in logged, "a secret in a log record"


def test_walk_would_see_a_secret_in_a_log_record(caplog, personas):
    """The log check above is not vacuous: a record holding a secret is found by the same expression."""
    _, secrets = personas
    caplog.set_level(logging.DEBUG)
    logging.getLogger("cadml.api").warning("leaked %s", secrets[0])
    logged = caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    assert secrets[0] in logged
