"""API credentials: API keys for clients and admin tokens for ops staff.

Secrets are 256-bit random strings shown once at creation. Only their SHA-256 digest is stored (a slow KDF buys
nothing for random secrets of this length); lookup is by a short public prefix and the digest is compared in
constant time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from cadml_site.models import AuditRecord

PREFIX_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_credential(raw: str) -> tuple[str, str] | None:
    """``"<prefix>.<secret>"`` → ``(prefix, secret)``; anything else → None."""
    prefix, sep, secret = raw.partition(".")
    if not sep or len(prefix) != PREFIX_LENGTH or not secret or len(raw) > 256:
        return None
    return prefix, secret


def new_credential() -> tuple[str, str, str]:
    """Returns ``(prefix, full_credential, digest)``."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    return prefix, f"{prefix}.{secret}", hash_secret(f"{prefix}.{secret}")


class CredentialBase(models.Model):
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def touch(self) -> None:
        """Records use, at most once a minute per credential (no write on every request)."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > LAST_USED_RESOLUTION:
            type(self).objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class ApiKeyScope(models.TextChoices):
    """What a key may do: ``read`` (every read operation) or ``read_write`` (reads and writes).

    Which operations are writes is decided by ``cadml_site.api.permissions.ApiKeyScopePermits``; sensitive
    operations also need an admin token. Keys created before scopes existed are ``read_write`` (migration 0002).
    """

    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


class ApiKey(CredentialBase):
    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices, default=ApiKeyScope.READ_WRITE,
                             help_text="Read only, or read and write. Fixed at creation: issue a new key to change it.")

    class Meta(CredentialBase.Meta):
        verbose_name = "API key"
        # For API keys and admin tokens alike (docs/security.md, "Admin console: permissions and roles").
        permissions = [
            ("issue_credential", "Can issue API keys and admin tokens"),
            ("revoke_credential", "Can revoke API keys and admin tokens"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def may_write(self) -> bool:
        return self.scope == ApiKeyScope.READ_WRITE


class AdminToken(CredentialBase):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_tokens")
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta(CredentialBase.Meta):
        verbose_name = "admin token"

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix})"


class CredentialAuditRecord(AuditRecord):
    """Who created or revoked which credential, and why."""

    class Meta(AuditRecord.Meta):
        verbose_name = "credential audit record"
