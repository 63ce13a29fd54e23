"""Writes for API credentials."""

from __future__ import annotations

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


@transaction.atomic
def api_key_issue(*, name: str, scope: str, actor: str, reason: str = "") -> tuple[ApiKey, str]:
    """An operator issues a key through the API: created like ``api_key_create`` and audited."""
    key, secret = api_key_create(name=name, scope=scope)
    CredentialAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action="api_key_issue",
                                         reason=reason, before=None, after=_key_state(key))
    return key, secret


@transaction.atomic
def api_key_revoke(*, prefix: str, actor: str, reason: str = "") -> ApiKey:
    api_key = ApiKey.objects.select_for_update().filter(prefix=prefix).first()
    if api_key is None:
        raise NotFound(f"No API key with prefix {prefix!r}.", code="api_key_not_found", stage="credentials",
                       context={"prefix": prefix})
    before = _key_state(api_key)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        # this process refuses the key at once (before and after commit); other processes within a second
        credential_cache.forget(prefix)
        transaction.on_commit(lambda: credential_cache.forget(prefix))
    CredentialAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action="api_key_revoke",
                                         reason=reason, before=before, after=_key_state(api_key))
    return api_key


# ---- admin console: every creation, revocation and change is audited (issue 18) ------------------------------------
def _token_state(token: AdminToken) -> dict:
    return {"user": token.user.get_username(), "name": token.name, "prefix": token.prefix,
            "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None}


def _audit(*, action: str, actor: str, reason: str, before: dict | None, after: dict) -> None:
    CredentialAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action=action,
                                         reason=reason, before=before, after=after)


@transaction.atomic
def admin_token_issue(*, username: str, name: str = "", actor: str, reason: str = "") -> tuple[AdminToken, str]:
    """An operator issues an admin token (in the admin console): created like ``admin_token_create`` and audited."""
    token, secret = admin_token_create(username=username, name=name)
    _audit(action="admin_token_issue", actor=actor, reason=reason, before=None, after=_token_state(token))
    return token, secret


@transaction.atomic
def admin_token_revoke(*, prefix: str, actor: str, reason: str = "") -> AdminToken:
    """Revokes an admin token for good (there is no un-revoke: issue a new token instead); audited."""
    token = AdminToken.objects.select_for_update().select_related("user").filter(prefix=prefix).first()
    if token is None:
        raise NotFound(f"No admin token with prefix {prefix!r}.", code="admin_token_not_found", stage="credentials",
                       context={"prefix": prefix})
    before = _token_state(token)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    _audit(action="admin_token_revoke", actor=actor, reason=reason, before=before, after=_token_state(token))
    return token


@transaction.atomic
def api_key_rename(*, prefix: str, name: str, actor: str, reason: str = "") -> ApiKey:
    """Changes an API key's name, the only thing about a key that may change; audited."""
    name = name.strip()
    if not name:
        raise BadRequest("An API key needs a name.", code="name_required", stage="credentials")
    api_key = ApiKey.objects.select_for_update().filter(prefix=prefix).first()
    if api_key is None:
        raise NotFound(f"No API key with prefix {prefix!r}.", code="api_key_not_found", stage="credentials",
                       context={"prefix": prefix})
    if ApiKey.objects.filter(name=name).exclude(pk=api_key.pk).exists():
        raise Conflict(f"An API key named {name!r} already exists.", code="name_taken", stage="credentials",
                       context={"name": name})
    before = _key_state(api_key)
    api_key.name = name
    api_key.save(update_fields=["name"])
    _audit(action="api_key_change", actor=actor, reason=reason, before=before, after=_key_state(api_key))
    return api_key


@transaction.atomic
def admin_token_rename(*, prefix: str, name: str, actor: str, reason: str = "") -> AdminToken:
    """Changes an admin token's name, the only thing about a token that may change (never its user); audited."""
    token = AdminToken.objects.select_for_update().select_related("user").filter(prefix=prefix).first()
    if token is None:
        raise NotFound(f"No admin token with prefix {prefix!r}.", code="admin_token_not_found", stage="credentials",
                       context={"prefix": prefix})
    before = _token_state(token)
    token.name = name.strip()
    token.save(update_fields=["name"])
    _audit(action="admin_token_change", actor=actor, reason=reason, before=before, after=_token_state(token))
    return token
