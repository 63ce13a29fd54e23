"""Abstract model bases shared by the apps."""

from __future__ import annotations

from django.db import models


class AuditRecord(models.Model):
    """An append-only record of an operator action: who, when, why, and the state before and after.

    Concrete audit tables inherit this; their admin is read-only (``cadml_site.admin_base.ReadOnlyAdmin``) and no
    code path updates or deletes a row.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150, help_text="Staff username behind the admin token, or api-key:<prefix>.")
    request_id = models.CharField(max_length=128, blank=True, default="")
    action = models.CharField(max_length=64)
    reason = models.TextField(blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RuntimeError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} rows are append-only")
