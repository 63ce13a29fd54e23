"""Cache endpoints: one APIView per operation; sensitive ones need ops staff."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from cachectl import selectors, services
from cachectl.api import serializers as s
from cadml_site.api.pagination import OrderedLimitOffsetPagination
from cadml_site.api.base import SensitiveApi, validated
from cadml_site.api.permissions import actor_name

TAGS = ["cache"]
CONFLICT = OpenApiResponse(description="application/problem+json: rollback_window_active, "
                                       "rollback_window_expired, nothing_to_rollback, no_open_window or "
                                       "settings_unchanged; "
                                       "context has change_id and deadline.")
BAD = OpenApiResponse(description="application/problem+json: out_of_bounds, reason_required, ...")


def _settings_change(request, input_serializer, service, **url_kwargs) -> Response:
    """Validate the body, call the settings-change ``service`` as the requesting actor and answer with the change,
    the settings now in force and the rollback window."""
    change = service(**url_kwargs, actor=actor_name(request), **validated(input_serializer, request.data))
    state = selectors.cache_settings_state()
    window = selectors.cache_rollback_window()
    return Response(s.CacheChangeResultOutput({
        "change": change,
        "settings": {**state.settings_dict(), "generation": state.generation,
                     "prewarm_generation": state.prewarm_generation},
        "rollback_window": window,
    }).data)


class CacheStatusApi(APIView):
    """Settings, this process's statistics, the open rollback window and the recent changes."""

    @extend_schema(operation_id="cache_status", responses=s.CacheStatusOutput, tags=TAGS)
    def get(self, request):
        return Response(s.CacheStatusOutput(selectors.cache_status()).data)


class CacheSettingsApplyApi(SensitiveApi):
    """Snapshot the current settings, apply new ones everywhere (within 5 s) and open a rollback window."""

    required_permission = "cachectl.apply_cache_settings"
    schema_links = {"post": {200: {
        "RestoreSnapshot": {"operationId": "cache_snapshot_restore",
                            "parameters": {"snapshot_id": "$response.body#/change/snapshot_id"}},
        "RollBack": {"operationId": "cache_rollback"},
        "Confirm": {"operationId": "cache_confirm"},
    }}}

    @extend_schema(operation_id="cache_apply", request=s.CacheApplyInput,
                   responses={200: s.CacheChangeResultOutput, 400: BAD, 409: CONFLICT}, tags=TAGS)
    def post(self, request):
        return _settings_change(request, s.CacheApplyInput, services.cache_settings_apply)


class CacheSettingsRollbackApi(SensitiveApi):
    """Restore the settings the last change replaced, inside its rollback window."""

    required_permission = "cachectl.rollback_cache"

    @extend_schema(operation_id="cache_rollback", request=s.CacheReasonInput,
                   responses={200: s.CacheChangeResultOutput, 409: CONFLICT}, tags=TAGS)
    def post(self, request):
        return _settings_change(request, s.CacheReasonInput, services.cache_settings_rollback)


class CacheSettingsConfirmApi(SensitiveApi):
    """Close the rollback window early: the change stands."""

    required_permission = "cachectl.apply_cache_settings"

    @extend_schema(operation_id="cache_confirm", request=s.CacheConfirmInput,
                   responses={200: s.CacheChangeResultOutput, 409: CONFLICT}, tags=TAGS)
    def post(self, request):
        return _settings_change(request, s.CacheConfirmInput, services.cache_settings_confirm)


class CacheSnapshotListApi(APIView):
    """Snapshots (settings plus statistics when they were replaced), newest first, paginated."""

    pagination_class = OrderedLimitOffsetPagination

    @extend_schema(operation_id="cache_snapshot_list", responses=s.CacheSnapshotOutput(many=True), tags=TAGS)
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.cache_snapshot_list(), request, view=self)
        return paginator.get_paginated_response(s.CacheSnapshotOutput(page, many=True).data)


class CacheSnapshotRestoreApi(SensitiveApi):
    """Apply a snapshot's settings (same window rules as apply: opens a new rollback window)."""

    required_permission = "cachectl.restore_cache_snapshot"

    @extend_schema(operation_id="cache_snapshot_restore", request=s.CacheReasonInput,
                   responses={200: s.CacheChangeResultOutput, 404: BAD, 409: CONFLICT}, tags=TAGS)
    def post(self, request, snapshot_id: int):
        return _settings_change(request, s.CacheReasonInput, services.cache_snapshot_restore, snapshot_id=snapshot_id)


class CachePrewarmApi(SensitiveApi):
    """Load entries from the stored features in priority order, in every worker process."""

    required_permission = "cachectl.prewarm_cache"

    @extend_schema(operation_id="cache_prewarm", request=s.CachePrewarmInput,
                   responses={200: s.CachePrewarmOutput, 400: BAD}, tags=TAGS)
    def post(self, request):
        v = validated(s.CachePrewarmInput, request.data)
        run = services.cache_prewarm(actor=actor_name(request), default_limit_cap=s.API_MAX_PREWARM_LIMIT, **v)
        return Response(s.CachePrewarmOutput(run).data)
