import json

from django.contrib import admin
from django.utils.html import format_html

from cadml_site.admin_base import ReadOnlyAdmin
from features.models import Analysis, CadFile


def _pretty(value) -> str:
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(CadFile)
class CadFileAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "format", "size", "short_sha256", "parse_seconds", "created_at")
    list_filter = ("format", "parser", "created_at")
    search_fields = ("original_name", "sha256")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = ("original_name", "sha256", "size", "format", "parser", "parse_seconds", "created_at",
              "meta_pretty", "summary_pretty")
    readonly_fields = fields

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.sha256[:16] + "…"

    @admin.display(description="summary")
    def summary_pretty(self, obj):
        return _pretty(obj.summary)

    @admin.display(description="meta")
    def meta_pretty(self, obj):
        return _pretty(obj.meta)


@admin.register(Analysis)
class AnalysisAdmin(ReadOnlyAdmin):
    list_display = ("id", "cad_file", "feature_version", "reused_file", "created_at")
    list_filter = ("feature_version", "reused_file", "cad_file__format", "created_at")
    search_fields = ("cad_file__original_name", "cad_file__sha256")
    ordering = ("-created_at", "-id")
    list_select_related = ("cad_file",)
