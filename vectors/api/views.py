"""Vectors API: one APIView per operation (collections with GET+POST / GET+DELETE keep one class per URL)."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from cadml_site.api.pagination import OrderedLimitOffsetPagination
from cadml_site.api.base import SensitiveApi, validated
from cadml_site.api.output import output_data
from cadml_site.api.permissions import READ, ApiKeyScopePermits, HasApiKey, HasOperationPermission, IsOpsStaff, actor_name
from cadml_site.request_context import current_request_id
from vectors import selectors, services
from vectors.api import serializers as s
from vectors.errors import InvalidFilter

TAGS = ["vectors"]
SEARCH_PROBLEMS = {
    404: "vector_not_found: a query names a key that is not stored for this feature version",
    409: "generation_not_reached: the index has not caught up with min_generation yet; retry",
    422: "dimension_mismatch, invalid_vector: a query vector is not one of this feature version; match_needs_v5: "
         "match (duplicate, shape) asked of a version other than v5",
}
INDEX_PROBLEMS = {409: "rebuild_in_progress: another rebuild of this version is running",
                  503: "index_rebuild_failed: the rebuild failed (the previous index keeps serving); or the "
                       "database is down"}


def _version(data) -> str:
    return data.get("feature_version") or selectors.served_feature_version()


def _index_action(request, service) -> Response:
    """A recover or a rebuild: validate the body, call ``service`` for the version as the requesting actor and
    answer with its result."""
    v = validated(s.IndexActionInput, request.data)
    result = service(feature_version=_version(v), actor=actor_name(request), request_id=current_request_id(),
                     reason=v["reason"])
    return Response(s.IndexActionOutput(result.__dict__).data)


def _vector_dict(row) -> dict:
    return {"key": row.key, "feature_version": row.feature_version, "dimension": row.dimension,
            "values_list": row.as_array().tolist(), "meta": row.meta, "generation": row.generation,
            "created_at": row.created_at, "updated_at": row.updated_at, "last_referenced_at": row.last_referenced_at}


def _meta_filters(query_params) -> dict:
    """``?meta.part_type=bracket&meta.holes=4``: values are parsed as JSON when they can be, else strings."""
    filters = {}
    for name, value in query_params.items():
        if not name.startswith("meta."):
            continue
        if "\x00" in name or "\x00" in value:
            raise InvalidFilter(f"filter {name[:80]!r} may not hold NUL characters", context={"field": name[:80]})
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        if isinstance(parsed, (list, dict)):
            raise InvalidFilter(f"filter {name} must be a scalar", context={"field": name})
        filters[name[5:]] = parsed
    return filters


class _PerMethod(BasePermission):
    """Reads need an API key; DELETE is sensitive (and needs the view's ``required_permission``)."""

    sensitive_methods = ("DELETE",)  # read by the OpenAPI schema class

    def needs_staff(self, method: str) -> bool:
        return method == "DELETE"

    def has_permission(self, request, view) -> bool:
        if request.method == "DELETE":
            return (IsOpsStaff().has_permission(request, view)
                    and HasOperationPermission().has_permission(request, view))
        return HasApiKey().has_permission(request, view)


class VectorsApi(APIView):
    """GET: list vectors of a feature version (meta filters as ``meta.<field>=``). POST: register one or a bulk."""

    pagination_class = OrderedLimitOffsetPagination
    problem_statuses = {"post": {422: "invalid_key, invalid_vector, dimension_mismatch, invalid_meta, duplicate_key"}}
    schema_links = {"post": {201: {
        "GetVector": {"operationId": "vectors_get", "parameters": {
            "key": "$response.body#/key", "feature_version": "$response.body#/feature_version"}},
        "DeleteVector": {"operationId": "vectors_delete", "parameters": {
            "key": "$response.body#/key", "feature_version": "$response.body#/feature_version"}},
        "SearchByKey": {"operationId": "vectors_similarity", "requestBody": {
            "key": "$response.body#/key", "feature_version": "$response.body#/feature_version"}},
    }}}

    @extend_schema(operation_id="vectors_list", description="List vectors of a feature version, ordered by key; "
                   "exact meta filters as `meta.<field>=<value>` (values parsed as JSON when possible; field "
                   "names are identifiers: 400 invalid_filter otherwise). OpenAPI 3.0 cannot name a family of "
                   "parameters, so the filters are described here rather than listed.", parameters=[
        s.VectorListInput,
    ], responses=s.VectorOutput(many=True), tags=TAGS)
    def get(self, request):
        v = validated(s.VectorListInput, request.query_params)
        rows = selectors.vector_list(feature_version=_version(v),
                                     filters=_meta_filters(request.query_params))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.VectorOutput([_vector_dict(r) for r in page], many=True).data)

    @extend_schema(operation_id="vectors_register", description="Register one vector (`key`, `values`, `meta`) or "
                   "a bulk (`vectors`), all or nothing under one generation.", request=s.VectorRegisterInput,
                   responses={201: s.VectorRegisterOutput}, tags=TAGS)
    def post(self, request):
        v = validated(s.VectorRegisterInput, request.data)
        version = _version(v)
        if "vectors" in v:
            out = services.vector_bulk_upsert(feature_version=version, items=v["vectors"])
            body = {"feature_version": version, "generation": out.generation, "created": out.created,
                    "updated": out.updated}
        else:
            one = services.vector_upsert(key=v["key"], feature_version=version, values=v["values"], meta=v["meta"])
            body = {"feature_version": version, "generation": one.generation, "created": int(one.created),
                    "updated": int(not one.created), "key": one.key}
        return Response(s.VectorRegisterOutput(body).data, status=status.HTTP_201_CREATED)


class VectorDetailApi(APIView):
    """GET one vector; DELETE it (sensitive, audited)."""

    required_permission = "vectors.delete_vector"  # DELETE only (GET needs a key)

    permission_classes = [_PerMethod, ApiKeyScopePermits]

    def get_throttles(self):
        if self.request.method == "DELETE":
            self.throttle_scope = "sensitive"
        return super().get_throttles()

    @extend_schema(operation_id="vectors_get", description="One vector with its values.",
                   parameters=[s.VectorDetailInput], responses=s.VectorOutput,
                   tags=TAGS)
    def get(self, request, key: str):
        v = validated(s.VectorDetailInput, request.query_params)
        row = selectors.vector_get(key=key, feature_version=_version(v))
        return Response(s.VectorOutput(_vector_dict(row)).data)

    @extend_schema(operation_id="vectors_delete", description="Delete a vector (sensitive, audited).",
                   parameters=[s.VectorDeleteInput], responses={200: s.VectorDeleteOutput},
                   tags=TAGS)
    def delete(self, request, key: str):
        v = validated(s.VectorDeleteInput, request.query_params)
        version = _version(v)
        generation = services.vector_delete(key=key, feature_version=version, actor=actor_name(request),
                                            request_id=current_request_id(), reason=v["reason"])
        return Response(s.VectorDeleteOutput({"key": key, "feature_version": version, "generation": generation}).data)


class VectorSimilaritySearchApi(APIView):
    """The k most similar vectors to a vector or a stored key (v1-v4: exact cosine; v5: re-ranked by the v5
    distance, each result labelled with its match kind)."""

    api_key_access = READ  # a POST that only reads

    problem_statuses = SEARCH_PROBLEMS

    @extend_schema(operation_id="vectors_similarity", request=s.SimilaritySearchInput,
                   responses=s.SimilaritySearchOutput, tags=TAGS,
                   description="The k most similar vectors. For v5 each result says its `match` kind (exact, "
                               "duplicate, same_shape_other_scale with `scale_factor` and `unit_mismatch_suspected`, "
                               "or similar) and `match` (any, duplicate, shape) filters by kind; `mirror=distinct` "
                               "labels a same-shape result of opposite handedness `mirror_image`; `match` other than "
                               "`any` or `mirror` other than `same` on v1-v4 is a 422 `match_needs_v5`.")
    def post(self, request):
        v = validated(s.SimilaritySearchInput, request.data)
        version = _version(v)
        out = selectors.vector_similarity_search(feature_version=version, vector=v["vector"], key=v["key"],
                                                 k=v["k"], min_score=v["min_score"], filters=v["filters"],
                                                 min_generation=v["min_generation"], match=v["match"],
                                                 cad_file=v["cad_file"], mirror=v["mirror"])
        return Response(output_data(s.SimilaritySearchOutput, {**out, "feature_version": version}))


class VectorSimilarityBatchApi(APIView):
    """Up to CADML_SIMILARITY_BATCH_MAX queries searched together; one result list per query."""

    api_key_access = READ  # a POST that only reads
    problem_statuses = SEARCH_PROBLEMS

    @extend_schema(operation_id="vectors_similarity_batch", request=s.SimilarityBatchInput,
                   responses=s.SimilarityBatchOutput, tags=TAGS)
    def post(self, request):
        v = validated(s.SimilarityBatchInput, request.data)
        version = _version(v)
        out = selectors.vector_similarity_search_batch(feature_version=version, queries=v["queries"], k=v["k"],
                                                       min_score=v["min_score"], filters=v["filters"],
                                                       min_generation=v["min_generation"], match=v["match"],
                                                       mirror=v["mirror"])
        return Response(output_data(s.SimilarityBatchOutput, {**out, "feature_version": version}))


class IndexStatusApi(APIView):
    """Per feature version: mode, size, generation, degraded state, recovery timing and the last 20 events."""

    @extend_schema(operation_id="vectors_index_status", parameters=[s.IndexStatusInput],
                   responses=s.IndexStatusOutput, tags=TAGS)
    def get(self, request):
        v = validated(s.IndexStatusInput, request.query_params)
        versions = selectors.index_status(feature_version=v.get("feature_version"))
        return Response(s.IndexStatusOutput({"versions": versions}).data)


class IndexRecoverApi(SensitiveApi):
    """Try a recovery now, ignoring backoff and suppression (sensitive, audited); 409 while a rebuild runs."""

    required_permission = "vectors.recover_index"
    problem_statuses = INDEX_PROBLEMS

    @extend_schema(operation_id="vectors_index_recover", request=s.IndexActionInput, responses=s.IndexActionOutput,
                   tags=TAGS)
    def post(self, request):
        return _index_action(request, services.index_recover)


class IndexRebuildApi(SensitiveApi):
    """Rebuild the index from the database and publish a verified snapshot (sensitive, audited)."""

    required_permission = "vectors.rebuild_index"
    problem_statuses = INDEX_PROBLEMS

    @extend_schema(operation_id="vectors_index_rebuild", request=s.IndexActionInput, responses=s.IndexActionOutput,
                   tags=TAGS)
    def post(self, request):
        return _index_action(request, services.index_rebuild)


class IndexDegradeApi(SensitiveApi):
    """Start a degrade drill (sensitive, audited): the version is served by numpy until the drill ends."""

    required_permission = "vectors.drill_index"

    @extend_schema(operation_id="vectors_index_degrade", request=s.IndexDegradeInput, responses=s.IndexDegradeOutput,
                   tags=TAGS)
    def post(self, request):
        v = validated(s.IndexDegradeInput, request.data)
        row = services.index_degrade_drill(feature_version=_version(v), reason=v["reason"],
                                           actor=actor_name(request), request_id=current_request_id(),
                                           duration_seconds=v["duration_seconds"])
        return Response(s.IndexDegradeOutput({"feature_version": row.feature_version, "degraded": row.degraded,
                                              "reason": row.degraded_reason, "drill_until": row.drill_until}).data)


class VectorMigrationPreviewApi(APIView):
    """What migrating ``from_version`` -> ``to_version`` would do (counts, dimension delta, statistics, warnings)."""

    problem_statuses = {422: "invalid_migration: from_version and to_version are the same"}

    @extend_schema(operation_id="vectors_migrate_preview", parameters=[s.MigrationPreviewInput],
                   responses=s.MigrationPreviewOutput, tags=TAGS)
    def get(self, request):
        v = validated(s.MigrationPreviewInput, request.query_params)
        out = selectors.migration_preview(from_version=v["from_version"], to_version=v["to_version"],
                                          limit=v["limit"])
        return Response(s.MigrationPreviewOutput(out).data)


class VectorMigrationStartApi(SensitiveApi):
    """Start a migration run as a task (sensitive, audited); poll it at ``migrate/runs/<id>/``."""

    required_permission = "vectors.migrate_vectors"
    problem_statuses = {409: "migration_conflict: a run for these versions is already in progress",
                        422: "invalid_migration: from_version and to_version are the same"}
    schema_links = {"post": {202: {"GetMigrationRun": {"operationId": "vectors_migrate_run_get",
                                                       "parameters": {"run_id": "$response.body#/id"}}}}}

    @extend_schema(operation_id="vectors_migrate_start", request=s.MigrationStartInput,
                   responses={202: s.MigrationRunOutput}, tags=TAGS)
    def post(self, request):
        v = validated(s.MigrationStartInput, request.data)
        run = services.vector_migration_start(from_version=v["from_version"], to_version=v["to_version"],
                                              dry_run=v["dry_run"], actor=actor_name(request),
                                              request_id=current_request_id())
        run.refresh_from_db()
        return Response(s.MigrationRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class VectorMigrationRunDetailApi(APIView):
    """One migration run: status, progress and statistics."""

    @extend_schema(operation_id="vectors_migrate_run_get", responses=s.MigrationRunOutput, tags=TAGS)
    def get(self, request, run_id: int):
        return Response(s.MigrationRunOutput(selectors.migration_run_get(run_id=run_id)).data)
