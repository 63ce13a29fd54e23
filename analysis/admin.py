from django.contrib import admin

from analysis.models import Analysis
from cadml_site.admin_base import ReadOnlyAdmin


@admin.register(Analysis)
class AnalysisAdmin(ReadOnlyAdmin):
    list_display = ("id", "cad_file", "feature_version", "reused_file", "created_at")
    list_filter = ("feature_version", "reused_file", "cad_file__format", "created_at")
    search_fields = ("cad_file__original_name", "cad_file__sha256")
    ordering = ("-created_at", "-id")
    list_select_related = ("cad_file",)
