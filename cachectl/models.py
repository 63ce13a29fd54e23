"""Feature cache controls: the settings row, its change history with rollback windows, snapshots, the audit
trail, recent-hit tracking and prewarm runs."""

from __future__ import annotations

from django.db import models

from cachectl.core import POLICIES, POLICY_TINYLFU
from cadml_site.models import AuditRecord

POLICY_CHOICES = [(policy, policy) for policy in POLICIES]


class CacheSettings(models.Model):
    """The single row (pk=1) every process converges on; ``generation`` grows with every settings change and
    ``prewarm_generation`` with every prewarm run. Until the first change the environment defaults apply."""

    SINGLETON_ID = 1

    capacity = models.PositiveIntegerField()
    ttl_seconds = models.PositiveIntegerField()
    policy = models.CharField(max_length=16, choices=POLICY_CHOICES, default=POLICY_TINYLFU)
    generation = models.PositiveBigIntegerField(default=0)
    prewarm_generation = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cache settings"
        verbose_name_plural = "cache settings"
        # One permission per kind of state-changing operation, checked by the admin actions and the API
        # (docs/security.md, "Admin console: permissions and roles").
        permissions = [
            ("apply_cache_settings", "Can apply or confirm cache settings"),
            ("rollback_cache", "Can roll back a cache settings change"),
            ("restore_cache_snapshot", "Can restore a cache snapshot"),
            ("prewarm_cache", "Can prewarm the cache"),
        ]

    def __str__(self) -> str:
        return f"capacity={self.capacity} ttl={self.ttl_seconds}s policy={self.policy} (generation {self.generation})"


class CacheSnapshot(models.Model):
    """Settings plus the cache statistics at the moment they were replaced (restorable)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    capacity = models.PositiveIntegerField()
    ttl_seconds = models.PositiveIntegerField()
    policy = models.CharField(max_length=16, choices=POLICY_CHOICES)
    generation = models.PositiveBigIntegerField(help_text="Settings generation the snapshot was taken at.")
    stats = models.JSONField(help_text="Statistics of the process that took the snapshot.")
    taken_by = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot #{self.pk}: capacity={self.capacity} ttl={self.ttl_seconds}s policy={self.policy}"

    def settings_dict(self) -> dict:
        return {"capacity": self.capacity, "ttl_seconds": self.ttl_seconds, "policy": self.policy}


class CacheSettingsChange(models.Model):
    """One change of the settings (apply, restore or rollback). Apply and restore open a rollback window until
    ``deadline``; it is resolved by a confirm, a rollback, or a later change after the deadline."""

    class Kind(models.TextChoices):
        APPLY = "apply"
        RESTORE = "restore"
        ROLLBACK = "rollback"

    class Outcome(models.TextChoices):
        OPEN = "open"
        CONFIRMED = "confirmed"
        ROLLED_BACK = "rolled_back"
        SUPERSEDED = "superseded"
        NO_WINDOW = "no_window"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True, default="")
    before = models.JSONField()
    after = models.JSONField()
    generation = models.PositiveBigIntegerField(help_text="Settings generation this change produced.")
    snapshot = models.ForeignKey(
        CacheSnapshot, on_delete=models.PROTECT, related_name="changes",
        help_text="Snapshot of the settings this change replaced (what a rollback restores).",
    )
    restored_from = models.ForeignKey(
        CacheSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="restores",
    )
    deadline = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "cache settings change"

    def __str__(self) -> str:
        return f"change #{self.pk} ({self.kind}, {self.outcome})"


class CacheAuditRecord(AuditRecord):
    """Apply, rollback, confirm, restore and prewarm, append-only."""

    class Meta(AuditRecord.Meta):
        verbose_name = "cache audit record"


class CacheKeyActivity(models.Model):
    """Lookups and hits per key, flushed by every process every few seconds and kept for a week: prewarm's
    "recent hits" (``last_hit_at``) and "high-frequency" (``lookups``) tiers."""

    sha256 = models.CharField(max_length=64)
    version = models.CharField(max_length=16)
    hits = models.PositiveBigIntegerField(default=0)
    lookups = models.PositiveBigIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_lookup_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sha256", "version"], name="cachectl_key_activity_key")]
        ordering = ["-last_lookup_at", "-id"]
        verbose_name = "cache key activity"
        verbose_name_plural = "cache key activity"


class CachePrewarmRun(models.Model):
    """A prewarm plan (ordered keys with their tier) that every process replays when it notices
    ``CacheSettings.prewarm_generation`` reach ``generation``."""

    created_at = models.DateTimeField(auto_now_add=True)
    generation = models.PositiveBigIntegerField(unique=True)
    actor = models.CharField(max_length=150)
    limit = models.PositiveIntegerField()
    entries = models.JSONField(help_text='[[sha256, version, tier], ...] in priority order.')
    tiers = models.JSONField()
    loaded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-generation"]

    def __str__(self) -> str:
        return f"prewarm #{self.generation}: {self.loaded} loaded"


class CacheStatsSample(models.Model):
    """The feature cache's lookups and hits over every process (the counters ``/metrics`` sums), sampled every
    minute by the beat task ``cachectl.sample_cache_stats`` and kept ``CADML_CACHE_STATS_RETENTION_DAYS``: the
    dashboard's hit-ratio history. ``lookups``, ``hits`` and ``hit_ratio`` are those of the interval since the
    previous sample (``since``; empty for the first sample: since the counters started)."""

    at = models.DateTimeField(db_index=True)
    since = models.DateTimeField(null=True, blank=True)
    lookups = models.PositiveBigIntegerField(help_text="Lookups in the interval, over every process.")
    hits = models.PositiveBigIntegerField(help_text="Hits (any tier) in the interval, over every process.")
    hit_ratio = models.FloatField(null=True, blank=True, help_text="hits / lookups; empty without lookups.")
    lookups_total = models.PositiveBigIntegerField(help_text="The lookup counter at the sample (the next delta).")
    hits_total = models.PositiveBigIntegerField(help_text="The hit counter at the sample.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "cache statistics sample"

    def __str__(self) -> str:
        return f"cache statistics at {self.at:%Y-%m-%d %H:%M} UTC: {self.hits}/{self.lookups}"
