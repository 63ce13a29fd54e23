"""Stored CAD files: one row per distinct content (analyses are the analysis app's, `analysis.models`)."""

from __future__ import annotations

from django.db import models

from features.parsers.document import FORMATS


class CadFile(models.Model):
    """A parsed CAD file: its content hash and the document summary every feature version is computed from.

    `summary` (`CadDocument.to_dict()`) is enough to recompute v1..v4; v5 needs the geometry, which a summary stored
    before v5 lacks: it is re-parsed from the uploaded original, kept content-addressed in the `cad_originals`
    storage (`features.originals`) under `original_key`. Rows stored before originals were kept have an empty
    `original_key` until the same content is uploaded again.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    original_name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=8, choices=[(f, f.upper()) for f in FORMATS], db_index=True)
    parser = models.CharField(max_length=32)
    parse_seconds = models.FloatField()
    summary = models.JSONField()
    meta = models.JSONField(default=dict, blank=True)
    original_key = models.CharField(
        max_length=255, blank=True, default="",
        help_text="Key of the uploaded original in the cad_originals storage; empty: not stored (an older row).")
    original_stored_at = models.DateTimeField(null=True, blank=True)
    thumbnail_key = models.CharField(
        max_length=255, blank=True, default="",
        help_text="Key of the rendered PNG thumbnail in the cad_originals storage (next to the original); empty: "
                  "not rendered yet.")
    thumbnail_error = models.CharField(
        max_length=64, blank=True, default="",
        help_text="Why the last render failed (an error code); empty when rendered or not tried.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "CAD file"

    @property
    def has_original(self) -> bool:
        return bool(self.original_key)

    @property
    def has_thumbnail(self) -> bool:
        return bool(self.thumbnail_key)

    def __str__(self) -> str:
        return f"{self.original_name or self.sha256[:12]} ({self.format})"

