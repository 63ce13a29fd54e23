"""Model registry: versions, the single registry state row, append-only reload attempts, opcode audit."""

from __future__ import annotations

from django.db import models

from cadml_site.models import AuditRecord


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "candidate"
        ACTIVE = "active", "active"
        PREVIOUS = "previous", "previous"
        REJECTED = "rejected", "rejected"          # load or validation failed
        QUARANTINED = "quarantined", "quarantined"  # the static scan refused it

    class Container(models.TextChoices):
        PICKLE = "pickle", "pickle"
        JOBLIB = "joblib", "joblib"

    label = models.CharField(max_length=100, unique=True)
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    container = models.CharField(max_length=16, choices=Container.choices)
    compression = models.CharField(max_length=8, blank=True, default="")
    protocol = models.PositiveSmallIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=255, help_text="File name inside CADML_MODEL_DIR.")
    feature_version = models.CharField(max_length=16, blank=True, default="")
    estimator = models.CharField(max_length=200, blank=True, default="")
    n_features = models.PositiveIntegerField(null=True, blank=True)
    classes = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    scan_report = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Training figures, e.g. cv_accuracy.")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # One permission per kind of state-changing operation, checked by the admin actions and the API
        # (docs/security.md, "Admin console: permissions and roles").
        permissions = [
            ("upload_model", "Can upload or register a model version"),
            ("reload_model", "Can activate (reload) a model version"),
            ("rollback_model", "Can roll back the active model"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.status}, {self.sha256[:12]})"

    def summary(self) -> dict:
        return {"id": self.pk, "label": self.label, "sha256": self.sha256, "status": self.status,
                "feature_version": self.feature_version, "estimator": self.estimator}


class ModelRegistryState(models.Model):
    """The single row every process converges on: the active version and its load sequence."""

    active = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    previous_ids = models.JSONField(default=list, blank=True,
                                    help_text="Versions to roll back to, most recent first (two levels).")
    load_sequence = models.BigIntegerField(default=0)
    last_error = models.JSONField(null=True, blank=True)
    scans_recorded = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "model registry state"

    def __str__(self) -> str:
        return f"sequence {self.load_sequence}"


class ModelReloadAttempt(AuditRecord):
    """Every upload, registration, reload, activation and rollback attempt, successful or not."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "success"
        REFUSED = "refused", "refused"

    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="attempts")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    mode = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    code = models.CharField(max_length=32, blank=True, default="")
    stage = models.CharField(max_length=16, blank=True, default="")
    message = models.TextField(blank=True, default="")
    findings = models.JSONField(default=list, blank=True)
    duration_ms = models.FloatField(default=0.0)

    class Meta(AuditRecord.Meta):
        indexes = [models.Index(fields=["-created_at"], name="modelops_attempt_created")]


class OpcodeAuditEntry(models.Model):
    """Aggregate of what the scanner has seen, in every mode: one row per opcode or global name."""

    class Kind(models.TextChoices):
        OPCODE = "opcode", "opcode"
        GLOBAL = "global", "global"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=300)
    count = models.BigIntegerField(default=0)
    samples = models.BigIntegerField(default=0, help_text="Scanned files in which it appeared.")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    sample_versions = models.JSONField(default=list, blank=True, help_text="Up to 5 sha256 prefixes / labels.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="opcode_audit_kind_name")]
        ordering = ["kind", "-count", "name"]
        verbose_name = "opcode audit entry"
        verbose_name_plural = "opcode audit entries"

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"
