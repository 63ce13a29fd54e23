"""One row per analyze call (`analysis.services.analysis_create`)."""

from __future__ import annotations

from django.db import models

from features.extractors import FEATURE_VERSIONS
from features.models import CadFile


class Analysis(models.Model):
    """One analyze call: the vector it produced for one version, its timings and cross-app sections.

    The table is still `features_analysis`: the model moved from the features app to this one without touching
    the data (`analysis.0001`, `features.0005`)."""

    cad_file = models.ForeignKey(CadFile, on_delete=models.PROTECT, related_name="analyses")
    feature_version = models.CharField(max_length=8, choices=[(v, v) for v in FEATURE_VERSIONS])
    values = models.JSONField()
    reused_file = models.BooleanField(default=False, help_text="The content had been parsed before.")
    timings = models.JSONField(default=dict)
    sections = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "features_analysis"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.cad_file_id} ({self.feature_version})"
