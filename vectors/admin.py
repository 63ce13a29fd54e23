"""Admin: index status with "Recover now" / "Rebuild" / "Start a drill" / "Migrate to the served version"
(confirmation with a reason, audited), degraded history with
a timeline of degraded spells, migration runs, vectors and the ops audit trail (all read-only)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.contrib import admin, messages
from django.utils import timezone

from cadml_site.admin_base import ReadOnlyAdmin, confirmation_page, reason_form, user_permission
from cadml_site.errors import DomainError
from vectors import selectors, services
from vectors.models import IndexEvent, IndexState, MigrationRun, Vector, VectorOpsAudit

CONFIRM_TEMPLATE = "admin/vectors/confirm_index_action.html"
TIMELINE_DAYS = 7


def _confirm_then(modeladmin, request, queryset, *, title: str, action: str, run):
    """delete_selected-style: a confirmation page asking for a reason, then the service, then log_change."""
    form = reason_form(request)
    if request.POST.get("post") and form.is_valid():
        for state in queryset:
            try:
                result = run(state, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
            except DomainError as exc:
                modeladmin.message_user(request, f"{state.feature_version}: {exc.message} ({exc.code})",
                                        messages.ERROR)
                continue
            modeladmin.log_change(request, state, f"{action}: {form.cleaned_data['reason']}")
            level = messages.SUCCESS if result.result in ("success", "started") else messages.WARNING
            modeladmin.message_user(request, f"{state.feature_version}: {title} -> {result.result} {result.error}",
                                    level)
        return None
    return confirmation_page(modeladmin, request, queryset, template=CONFIRM_TEMPLATE, form=form, title=title,
                             action=action)


@admin.action(description="Recover now (ignores backoff and suppression)", permissions=["recover_index"])
def recover_now(modeladmin, request, queryset):
    return _confirm_then(modeladmin, request, queryset, title="Recover now", action="recover_now",
                         run=lambda state, actor, reason: services.index_recover(
                             feature_version=state.feature_version, actor=actor, reason=reason))


@admin.action(description="Rebuild the index from the database", permissions=["rebuild_index"])
def rebuild(modeladmin, request, queryset):
    return _confirm_then(modeladmin, request, queryset, title="Rebuild", action="rebuild",
                         run=lambda state, actor, reason: services.index_rebuild(
                             feature_version=state.feature_version, actor=actor, reason=reason))


@admin.action(description="Start a degradation drill (served degraded for CADML_DRILL_SECONDS)",
              permissions=["drill_index"])
def drill(modeladmin, request, queryset):
    def run(state, actor, reason):
        row = services.index_degrade_drill(feature_version=state.feature_version, actor=actor, reason=reason)
        return SimpleNamespace(result="started", error=f"degraded until {timezone.localtime(row.drill_until):%H:%M:%S}"
                               if row.drill_until else "")

    return _confirm_then(modeladmin, request, queryset, title="Drill", action="drill", run=run)


@admin.action(description="Migrate the selected version's vectors to the served version", permissions=["migrate_vectors"])
def migrate_to_served(modeladmin, request, queryset):
    def run(state, actor, reason):
        target = selectors.served_feature_version()
        if state.feature_version == target:
            raise DomainError(f"{target} is the served version already: select the version to migrate from",
                              code="invalid_query", stage="vectors")
        migration = services.vector_migration_start(from_version=state.feature_version, to_version=target,
                                                    dry_run=False, actor=actor)
        return SimpleNamespace(result="started", error=f"migration run {migration.pk} into {target}")

    return _confirm_then(modeladmin, request, queryset, title="Migration", action="migrate_to_served", run=run)


class IndexHealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("healthy", "healthy"), ("degraded", "degraded")]

    def queryset(self, request, queryset):
        if self.value() in ("healthy", "degraded"):
            return queryset.filter(degraded=self.value() == "degraded")
        return queryset


@admin.register(IndexState)
class IndexStateAdmin(admin.ModelAdmin):
    """The index status page."""

    actions = [recover_now, rebuild, drill, migrate_to_served]
    list_display = ("feature_version", "health", "mode", "generation", "degraded_since", "degraded_reason",
                    "next_attempt_at", "suppressed_until", "recovery_failures", "snapshot_generation", "last_error")
    list_filter = (IndexHealthFilter, "degraded_reason", "last_attempt_result")
    search_fields = ("feature_version", "degraded_reason", "last_error")
    ordering = ("feature_version",)
    # "degraded" is shown as the health text, not as a boolean icon (a red ✗ for a healthy index read as a fault)
    exclude = ("degraded",)
    # The same permissions as the API's recover and rebuild operations.
    has_recover_index_permission = user_permission("vectors.recover_index")
    has_rebuild_index_permission = user_permission("vectors.rebuild_index")
    has_drill_index_permission = user_permission("vectors.drill_index")
    has_migrate_vectors_permission = user_permission("vectors.migrate_vectors")
    readonly_fields = ["feature_version", "health"] + [f.name for f in IndexState._meta.fields
                                                       if f.name not in ("id", "feature_version", "degraded")]

    @admin.display(description="health", ordering="degraded")
    def health(self, obj):
        if not obj.degraded:
            return "healthy"
        if obj.degraded_since is None:
            return "degraded"
        return f"degraded since {timezone.localtime(obj.degraded_since):%Y-%m-%d %H:%M:%S %Z}"

    @admin.display(description="mode")
    def mode(self, obj):
        return "memory (degraded)" if obj.degraded else "faiss"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # the list and its actions only


@admin.register(IndexEvent)
class IndexEventAdmin(ReadOnlyAdmin):
    """Degraded history with a timeline chart of degraded spells."""

    change_list_template = "admin/vectors/indexevent/change_list.html"
    list_display = ("created_at", "feature_version", "event", "reason", "actor", "detail")
    list_filter = ("feature_version", "event", "reason", "created_at")
    search_fields = ("reason", "detail", "actor")
    ordering = ("-created_at", "-id")

    def changelist_view(self, request, extra_context=None):
        now = timezone.now()
        since = now - timedelta(days=TIMELINE_DAYS)
        span = (now - since).total_seconds()
        rows: dict[str, list] = {}
        for spell in selectors.degraded_spells(since=since):
            start = max(spell["start"], since)
            end = spell["end"] or now
            rows.setdefault(spell["feature_version"], []).append({
                "left": round(100 * (start - since).total_seconds() / span, 3),
                "width": round(max(0.3, 100 * (end - start).total_seconds() / span), 3),
                "title": f"{spell['reason']}: {start:%Y-%m-%d %H:%M:%S} - "
                         f"{'ongoing' if spell['end'] is None else f'{end:%Y-%m-%d %H:%M:%S}'}",
                "ongoing": spell["end"] is None,
            })
        ticks = []
        for day in range(1, TIMELINE_DAYS + 1):
            tick = (since + timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
            if since < tick <= now:
                ticks.append({"left": round(100 * (tick - since).total_seconds() / span, 3),
                              "label": f"{tick:%b %d}"})
        extra_context = {**(extra_context or {}), "timeline_rows": sorted(rows.items()), "timeline_ticks": ticks,
                         "timeline_days": TIMELINE_DAYS}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(MigrationRun)
class MigrationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "from_version", "to_version", "dry_run", "status", "processed", "total", "attempts",
                    "created_at", "finished_at")
    list_filter = ("status", "from_version", "to_version", "dry_run", "created_at")
    search_fields = ("actor", "error")
    ordering = ("-created_at", "-id")


@admin.register(Vector)
class VectorAdmin(ReadOnlyAdmin):
    list_display = ("key", "feature_version", "dimension", "generation", "updated_at", "last_referenced_at")
    list_filter = ("feature_version", "updated_at", "last_referenced_at")
    search_fields = ("key",)
    ordering = ("feature_version", "key")
    exclude = ("values",)


@admin.register(VectorOpsAudit)
class VectorOpsAuditAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "feature_version", "reason", "request_id")
    list_filter = ("action", "feature_version", "created_at")
    search_fields = ("actor", "reason", "request_id")
    ordering = ("-created_at", "-id")
