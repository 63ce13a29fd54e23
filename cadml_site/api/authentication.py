"""Header authentication: ``X-API-Key`` for every client, plus ``X-Admin-Token`` for ops staff.

A missing, malformed, unknown or revoked credential is a 401 with ``WWW-Authenticate``. The token, when sent, must
belong to an active user; whether that user may perform an operation is a permission question (403).

Credential rows are cached per process for at most ``CREDENTIAL_CACHE_SECONDS`` (1 s), keyed by the public prefix:
a request within that second costs no database round trip, and a revocation (or a deactivated user) made by any
process takes effect within it. The secret is still hashed and compared in constant time on every request; only
the row lookup is cached, and unknown prefixes are never cached (a new key works at once).
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from cadml_site.api.models import AdminToken, ApiKey, hash_secret, split_credential

API_KEY_HEADER = "X-API-Key"
ADMIN_TOKEN_HEADER = "X-Admin-Token"
# Compared against when the prefix is unknown, so that a miss costs the same as a hit.
_DUMMY_HASH = hash_secret("cadml-dummy-credential")
# How long a credential row read from the database is trusted by this process (the revocation delay, at most).
CREDENTIAL_CACHE_SECONDS = 1.0


class CredentialCache:
    """Per-process ``(model, prefix) -> (row, loaded_at)``; an entry older than the TTL is read again."""

    def __init__(self, ttl_seconds: float, clock=time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._rows: dict[tuple[str, str], tuple[object, float]] = {}
        self._lock = threading.Lock()

    def get(self, queryset, prefix: str):
        """The row of ``queryset`` with this prefix (revoked or not) or None, from the cache when fresh."""
        key = (queryset.model._meta.label, prefix)
        now = self.clock()
        entry = self._rows.get(key)
        if entry is not None and now - entry[1] < self.ttl_seconds:
            return entry[0]
        row = queryset.filter(prefix=prefix).first()
        with self._lock:
            if row is None:
                self._rows.pop(key, None)
            else:
                if len(self._rows) > 10_000:  # bounded: a flood of distinct valid prefixes cannot grow it forever
                    self._rows.clear()
                self._rows[key] = (row, now)
        return row

    def forget(self, prefix: str | None = None) -> None:
        """Drops one prefix (every model) or everything: this process sees the next change at once."""
        with self._lock:
            if prefix is None:
                self._rows.clear()
            else:
                for key in [k for k in self._rows if k[1] == prefix]:
                    del self._rows[key]


credential_cache = CredentialCache(CREDENTIAL_CACHE_SECONDS)


@dataclass(frozen=True)
class Credentials:
    api_key: ApiKey
    admin_token: AdminToken | None = None


class ApiKeyPrincipal:
    """``request.user`` for a request that carries an API key and no admin token."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"
        self.pk = None

    def __str__(self) -> str:
        return self.username


class _Unauthenticated(exceptions.AuthenticationFailed):
    def __init__(self, detail: str, problem_code: str) -> None:
        super().__init__(detail)
        self.problem_code = problem_code


def _verify(queryset, raw: str | None):
    """Returns the credential row matching ``raw`` (revoked or not) or None; constant-time in the secret."""
    if not raw:
        return None
    parts = split_credential(raw.strip())
    row = credential_cache.get(queryset, parts[0]) if parts else None
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(hash_secret(raw.strip()), expected)
    if row is None or not matches:
        return None
    return row


class ApiKeyAuthentication(BaseAuthentication):
    www_authenticate_realm = "cadml"

    def authenticate(self, request):
        raw_key = request.headers.get(API_KEY_HEADER)
        raw_token = request.headers.get(ADMIN_TOKEN_HEADER)
        if not raw_key:
            if raw_token:
                raise _Unauthenticated(f"{ADMIN_TOKEN_HEADER} needs an {API_KEY_HEADER} beside it.",
                                       "api_key_missing")
            return None  # permission classes answer 401 for closed endpoints
        api_key = _verify(ApiKey.objects.all(), raw_key)
        if api_key is None:
            raise _Unauthenticated("The API key is not valid.", "api_key_invalid")
        if api_key.is_revoked:
            raise _Unauthenticated("The API key has been revoked.", "api_key_revoked")
        token = None
        if raw_token:
            token = _verify(AdminToken.objects.select_related("user"), raw_token)
            if token is None:
                raise _Unauthenticated("The admin token is not valid.", "admin_token_invalid")
            if token.is_revoked:
                raise _Unauthenticated("The admin token has been revoked.", "admin_token_revoked")
            if not token.user.is_active:
                raise _Unauthenticated("The admin token belongs to an inactive user.", "admin_token_inactive_user")
        api_key.touch()
        if token is not None:
            token.touch()
            return token.user, Credentials(api_key=api_key, admin_token=token)
        return ApiKeyPrincipal(api_key), Credentials(api_key=api_key)

    def authenticate_header(self, request) -> str:
        return f'ApiKey realm="{self.www_authenticate_realm}", header="{API_KEY_HEADER}"'
