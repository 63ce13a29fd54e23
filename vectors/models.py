"""Vectors and the index's shared state: the database is the truth every process converges on."""

from __future__ import annotations

import uuid

import numpy as np
from django.db import models

from cadml_site.models import AuditRecord


class Vector(models.Model):
    """One feature vector. ``generation`` is the generation of its last write, ``created_generation`` of its
    first; a process at generation g applies the rows with a higher generation (replacing those created at or
    before g)."""

    key = models.CharField(max_length=255)
    feature_version = models.CharField(max_length=16)
    dimension = models.PositiveIntegerField()
    values = models.BinaryField(help_text="float32 little-endian, dimension x 4 bytes")
    meta = models.JSONField(default=dict, blank=True)
    generation = models.BigIntegerField()
    created_generation = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_referenced_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                              help_text="Last time the vector was a query or a result (prewarm).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feature_version", "key"], name="vector_key_per_version")]
        indexes = [models.Index(fields=["feature_version", "generation"], name="vector_version_generation")]
        ordering = ["feature_version", "key"]

    def __str__(self) -> str:
        return f"{self.feature_version}:{self.key}"

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.values), dtype="<f4").astype(np.float32)


class VectorDeletion(models.Model):
    """Change log of deletions, so every process removes a deleted vector when it catches up."""

    feature_version = models.CharField(max_length=16)
    vector_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    generation = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["feature_version", "generation"], name="deletion_version_generation")]
        ordering = ["-generation"]


def _new_incarnation() -> str:
    return uuid.uuid4().hex


class IndexState(models.Model):
    """Per feature version: the write generation, the load epoch, the degraded state and the recovery state."""

    feature_version = models.CharField(max_length=16, unique=True)
    incarnation = models.CharField(max_length=32, default=_new_incarnation, editable=False,
                                   help_text="Random per row: a restored or recreated state makes processes reload.")
    generation = models.BigIntegerField(default=0, help_text="Bumped by every write.")
    epoch = models.BigIntegerField(default=0, help_text="Bumped by every degrade/restore/rebuild: processes reload.")
    degraded = models.BooleanField(default=False)
    degraded_since = models.DateTimeField(null=True, blank=True)
    degraded_reason = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    drill_until = models.DateTimeField(null=True, blank=True)
    snapshot_generation = models.BigIntegerField(null=True, blank=True)
    snapshot_count = models.BigIntegerField(null=True, blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    recovery_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    suppressed_until = models.DateTimeField(null=True, blank=True)
    degradation_times = models.JSONField(default=list, blank=True, help_text="Epoch seconds, flap window only.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_result = models.CharField(max_length=16, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["feature_version"]
        verbose_name = "index"
        verbose_name_plural = "indexes"
        # One permission per kind of state-changing operation, checked by the admin actions and the API
        # (docs/security.md, "Admin console: permissions and roles").
        permissions = [
            ("recover_index", "Can recover a degraded index now"),
            ("rebuild_index", "Can rebuild an index from the database"),
            ("drill_index", "Can run an index degradation drill"),
            ("migrate_vectors", "Can start a vector migration"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_version} ({'degraded' if self.degraded else 'healthy'})"


class IndexEvent(models.Model):
    """Degraded-mode history."""

    class Kind(models.TextChoices):
        DEGRADED = "degraded"
        RESTORED = "restored"
        RECOVERY_FAILED = "recovery_failed"
        SUPPRESSED = "suppressed"
        MANUAL_OVERRIDE = "manual_override"
        DRILL = "drill"

    feature_version = models.CharField(max_length=16)
    event = models.CharField(max_length=32, choices=Kind.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["feature_version", "-created_at"], name="event_version_created")]

    def __str__(self) -> str:
        return f"{self.feature_version} {self.event} {self.created_at:%Y-%m-%d %H:%M:%S}"


class IndexLease(models.Model):
    """A named lease claimed by a conditional UPDATE: only one rebuild at a time across all processes."""

    name = models.CharField(max_length=32, unique=True)
    owner = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)


class ServedVersion(models.Model):
    """The feature version served by default; a migration switches it, the previous one stays for rollback."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    feature_version = models.CharField(max_length=16)
    previous_version = models.CharField(max_length=16, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)


class MigrationRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        INTERRUPTED = "interrupted"
        COMPLETED = "completed"
        DRY_RUN = "dry_run"
        FAILED = "failed"

    from_version = models.CharField(max_length=16)
    to_version = models.CharField(max_length=16)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="Id of the last source vector staged.")
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last sign of life of the process executing the run (its claim, then every staged batch). A run "
                  "whose heartbeat is older than CADML_MIGRATION_ABANDONED_SECONDS is resumed by another worker.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"migration {self.pk} {self.from_version}->{self.to_version} ({self.status})"


class MigrationStagedVector(models.Model):
    """A migrated vector waiting for the run's single publishing transaction."""

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="staged")
    source_vector_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    values = models.BinaryField()
    meta = models.JSONField(default=dict, blank=True)
    method = models.CharField(max_length=16)
    delta = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "source_vector_id"], name="staged_once_per_run")]
        ordering = ["source_vector_id"]


class VectorOpsAudit(AuditRecord):
    """Append-only record of operator actions on vectors and indexes."""

    feature_version = models.CharField(max_length=16, blank=True, default="")

    class Meta(AuditRecord.Meta):
        verbose_name = "vector ops audit record"
