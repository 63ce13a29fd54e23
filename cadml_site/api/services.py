"""Writes for API credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cadml_site.api.authentication import credential_cache
from cadml_site.errors import BadRequest, Conflict, NotFound
from cadml_site.api.models import AdminToken, ApiKey, ApiKeyScope, CredentialAuditRecord, new_credential
from cadml_site.request_context import current_request_id


@transaction.atomic
def api_key_create(*, name: str, scope: str = ApiKeyScope.READ_WRITE) -> tuple[ApiKey, str]:
    """Creates an API key with a scope (``read`` or ``read_write``); returns it with the secret, which is never
    stored and cannot be shown again."""
    name = name.strip()
    if scope not in ApiKeyScope.values:
        raise BadRequest(f"An API key's scope is one of {', '.join(ApiKeyScope.values)}, not {scope!r}.",
                         code="scope_invalid", stage="credentials", context={"scope": str(scope)[:40]})
    if not name:
        raise BadRequest("An API key needs a name.", code="name_required", stage="credentials")
    if ApiKey.objects.filter(name=name).exists():
        raise Conflict(f"An API key named {name!r} already exists.", code="name_taken", stage="credentials",
                       context={"name": name})
    prefix, secret, digest = new_credential()
    key = ApiKey.objects.create(name=name, prefix=prefix, secret_hash=digest, scope=scope)
    return key, secret


@transaction.atomic
def admin_token_create(*, username: str, name: str = "") -> tuple[AdminToken, str]:
    """Creates an admin token bound to an active staff user; returns it with the secret (shown once)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.", code="user_not_found", stage="credentials",
                       context={"username": username})
    if not (user.is_active and user.is_staff):
        raise BadRequest(f"User {username!r} must be an active staff user to hold an admin token.",
                         code="user_not_staff", stage="credentials", context={"username": username})
    prefix, secret, digest = new_credential()
    token = AdminToken.objects.create(user=user, name=name, prefix=prefix, secret_hash=digest)
    return token, secret


def _key_state(api_key: ApiKey) -> dict:
    return {"name": api_key.name, "prefix": api_key.prefix, "scope": api_key.scope,
            "revoked_at": api_key.revoked_at.isoformat() if api_key.revoked_at else None}


def _token_state(token: AdminToken) -> dict:
    return {"user": token.user.get_username(), "name": token.name, "prefix": token.prefix,
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


@dataclass(frozen=True)
class _CredentialKind:
    """What differs between the two credential kinds; issue, revoke and rename are one code path for both."""

    model: type[ApiKey] | type[AdminToken]
    noun: str                      # in messages: "API key", "admin token"
    not_found_code: str            # the error code when no credential has the prefix
    slug: str                      # in audit actions: api_key_issue, api_key_revoke, api_key_change
    state: Callable[[Any], dict]   # the audited before/after snapshot
    related: tuple[str, ...] = ()  # relations the snapshot reads


_API_KEY = _CredentialKind(ApiKey, "API key", "api_key_not_found", "api_key", _key_state)
_ADMIN_TOKEN = _CredentialKind(AdminToken, "admin token", "admin_token_not_found", "admin_token", _token_state,
                               related=("user",))


def _audit(*, action: str, actor: str, reason: str, before: dict | None, after: dict) -> None:
    CredentialAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action=action,
                                         reason=reason, before=before, after=after)


def _locked(kind: _CredentialKind, prefix: str):
    """The credential with this prefix, locked for the transaction; 404 when there is none."""
    rows = kind.model.objects.select_for_update()
    if kind.related:
        rows = rows.select_related(*kind.related)
    row = rows.filter(prefix=prefix).first()
    if row is None:
        raise NotFound(f"No {kind.noun} with prefix {prefix!r}.", code=kind.not_found_code,
                       stage="credentials", context={"prefix": prefix})
    return row


def _issued(kind: _CredentialKind, created: tuple, *, actor: str, reason: str) -> tuple:
    row, _secret = created
    _audit(action=f"{kind.slug}_issue", actor=actor, reason=reason, before=None, after=kind.state(row))
    return created


def _revoke(kind: _CredentialKind, *, prefix: str, actor: str, reason: str):
    row = _locked(kind, prefix)
    before = kind.state(row)
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        # this process refuses the credential at once (before and after commit); other processes within a second
        credential_cache.forget(prefix)
        transaction.on_commit(lambda: credential_cache.forget(prefix))
    _audit(action=f"{kind.slug}_revoke", actor=actor, reason=reason, before=before, after=kind.state(row))
    return row


def _rename(kind: _CredentialKind, row, *, name: str, actor: str, reason: str):
    before = kind.state(row)
    row.name = name
    row.save(update_fields=["name"])
    _audit(action=f"{kind.slug}_change", actor=actor, reason=reason, before=before, after=kind.state(row))
    return row


@transaction.atomic
def api_key_issue(*, name: str, scope: str, actor: str, reason: str = "") -> tuple[ApiKey, str]:
    """An operator issues a key through the API: created like ``api_key_create`` and audited."""
    return _issued(_API_KEY, api_key_create(name=name, scope=scope), actor=actor, reason=reason)


@transaction.atomic
def api_key_revoke(*, prefix: str, actor: str, reason: str = "") -> ApiKey:
    """Revokes an API key for good (there is no un-revoke: issue a new key instead); audited."""
    return _revoke(_API_KEY, prefix=prefix, actor=actor, reason=reason)


# ---- admin console: every creation, revocation and change is audited (issue 18) ------------------------------------
@transaction.atomic
def admin_token_issue(*, username: str, name: str = "", actor: str, reason: str = "") -> tuple[AdminToken, str]:
    """An operator issues an admin token (in the admin console): created like ``admin_token_create`` and audited."""
    return _issued(_ADMIN_TOKEN, admin_token_create(username=username, name=name), actor=actor, reason=reason)


@transaction.atomic
def admin_token_revoke(*, prefix: str, actor: str, reason: str = "") -> AdminToken:
    """Revokes an admin token for good (there is no un-revoke: issue a new token instead); audited."""
    return _revoke(_ADMIN_TOKEN, prefix=prefix, actor=actor, reason=reason)


@transaction.atomic
def api_key_rename(*, prefix: str, name: str, actor: str, reason: str = "") -> ApiKey:
    """Changes an API key's name, the only thing about a key that may change; audited."""
    name = name.strip()
    if not name:
        raise BadRequest("An API key needs a name.", code="name_required", stage="credentials")
    api_key = _locked(_API_KEY, prefix)
    if ApiKey.objects.filter(name=name).exclude(pk=api_key.pk).exists():
        raise Conflict(f"An API key named {name!r} already exists.", code="name_taken", stage="credentials",
                       context={"name": name})
    return _rename(_API_KEY, api_key, name=name, actor=actor, reason=reason)


@transaction.atomic
def admin_token_rename(*, prefix: str, name: str, actor: str, reason: str = "") -> AdminToken:
    """Changes an admin token's name, the only thing about a token that may change (never its user); audited."""
    return _rename(_ADMIN_TOKEN, _locked(_ADMIN_TOKEN, prefix), name=name.strip(), actor=actor, reason=reason)
