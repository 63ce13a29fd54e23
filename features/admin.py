import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html

from cadml_site.errors import DomainError
from cadml_site.admin_base import ReadOnlyAdmin
from features.file_responses import stored_file_response
from features.models import CadFile
from features.selectors import cad_file_original, cad_file_thumbnail


def _pretty(value) -> str:
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(CadFile)
class CadFileAdmin(ReadOnlyAdmin):
    list_display = ("thumbnail_small", "original_name", "format", "size", "short_sha256", "original_link",
                    "parse_seconds", "created_at")
    list_display_links = ("original_name",)
    list_filter = ("format", "parser", ("original_key", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("original_name", "sha256")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = ("thumbnail_large", "original_name", "sha256", "size", "format", "parser", "parse_seconds", "created_at",
              "original_link", "original_key", "original_stored_at", "api_content_path", "thumbnail_key",
              "thumbnail_error", "meta_pretty",
              "summary_pretty")
    readonly_fields = fields

    def get_urls(self):
        download = self.admin_site.admin_view(self.original_download_view)
        thumbnail = self.admin_site.admin_view(self.thumbnail_view)
        return [path("<int:object_id>/original/", download, name="features_cadfile_original"),
                path("<int:object_id>/thumbnail/", thumbnail, name="features_cadfile_thumbnail"),
                *super().get_urls()]

    def _stored(self, request, object_id: int, fetch):
        """What ``fetch(sha256=)`` finds for the row ``object_id``, to a staff user who may view it; 404 otherwise."""
        cad_file = CadFile.objects.filter(pk=object_id).first()
        if cad_file is None:
            raise Http404("no such CAD file")
        if not self.has_view_permission(request, cad_file):
            raise PermissionDenied
        try:
            return fetch(sha256=cad_file.sha256)
        except DomainError as exc:
            raise Http404(exc.message) from None

    def thumbnail_view(self, request, object_id: int):
        """The stored PNG thumbnail, for the list and detail pages (the admin's session)."""
        return stored_file_response(self._stored(request, object_id, cad_file_thumbnail), attachment=False, cache=True)

    def _thumbnail(self, obj, size: int):
        if not obj.has_thumbnail:
            return "render failed" if obj.thumbnail_error else "-"
        return format_html('<img src="{}" width="{}" height="{}" alt="{}">',
                           reverse("admin:features_cadfile_thumbnail", args=[obj.pk]), size, size,
                           f"thumbnail of {obj.original_name or obj.sha256[:12]}")

    @admin.display(description="picture")
    def thumbnail_small(self, obj):
        return self._thumbnail(obj, 64)

    @admin.display(description="thumbnail")
    def thumbnail_large(self, obj):
        return self._thumbnail(obj, 256)

    def original_download_view(self, request, object_id: int):
        """Staff download of the stored original (the admin's session; the API serves clients with a key)."""
        return stored_file_response(self._stored(request, object_id, cad_file_original), attachment=True)

    @admin.display(description="original")
    def original_link(self, obj):
        if not obj.has_original:
            return "not stored"
        return format_html('<a href="{}">download</a>', reverse("admin:features_cadfile_original", args=[obj.pk]))

    @admin.display(description="API")
    def api_content_path(self, obj):
        return f"GET /api/v1/files/{obj.sha256}/content/ (X-API-Key)" if obj.has_original else "-"

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.sha256[:16] + "…"

    @admin.display(description="summary")
    def summary_pretty(self, obj):
        return _pretty(obj.summary)

    @admin.display(description="meta")
    def meta_pretty(self, obj):
        return _pretty(obj.meta)

