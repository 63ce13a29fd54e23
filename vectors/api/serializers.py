"""Input and output serializers of the vectors API (one pair per operation)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from features.extractors import FEATURE_VERSIONS
from features.extractors.v5_match import MATCH_KINDS, MATCH_MODES


def _version_field(**kw):
    return serializers.ChoiceField(choices=list(FEATURE_VERSIONS), **kw)


class _JsonList(serializers.JSONField):
    """A JSON list checked for type and size only; the service validates its content in one vectorised pass."""

    def __init__(self, *, max_items: int, item_type: type | None = None, **kw):
        self.max_items, self.item_type = max_items, item_type
        super().__init__(**kw)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError("must be a non-empty list")
        if len(data) > self.max_items:
            raise serializers.ValidationError(f"at most {self.max_items} items")
        if self.item_type is not None and not all(isinstance(item, self.item_type) for item in data):
            raise serializers.ValidationError(f"every item must be a JSON {self.item_type.__name__}")
        return data


# ---- register / list / get / delete ---------------------------------------------------------------------------
class VectorRegisterInput(serializers.Serializer):
    feature_version = _version_field(required=False)
    key = serializers.CharField(max_length=255, required=False)
    values = _JsonList(max_items=10_000, required=False, help_text="One vector (list of numbers).")
    meta = serializers.JSONField(required=False, default=dict)
    vectors = _JsonList(max_items=settings.CADML_VECTOR_BULK_MAX, item_type=dict, required=False,
                        help_text="Bulk: a list of {key, values, meta} objects.")

    def validate(self, attrs):
        single = "key" in attrs or "values" in attrs
        if single == ("vectors" in attrs):
            raise serializers.ValidationError("give either key and values, or vectors (a bulk)")
        if single and not ("key" in attrs and "values" in attrs):
            raise serializers.ValidationError("a single registration needs key and values")
        return attrs


class VectorRegisterOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    generation = serializers.IntegerField(help_text="Pass as min_generation to a search to read this write.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    key = serializers.CharField(required=False)


class VectorListInput(serializers.Serializer):
    feature_version = _version_field(required=False)


class VectorOutput(serializers.Serializer):
    key = serializers.CharField()
    feature_version = serializers.CharField()
    dimension = serializers.IntegerField()
    values = serializers.ListField(child=serializers.FloatField(), source="values_list")
    meta = serializers.JSONField()
    generation = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_referenced_at = serializers.DateTimeField(allow_null=True)


class VectorDetailInput(serializers.Serializer):
    feature_version = _version_field(required=False)


class VectorDeleteInput(serializers.Serializer):
    feature_version = _version_field(required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class VectorDeleteOutput(serializers.Serializer):
    key = serializers.CharField()
    feature_version = serializers.CharField()
    generation = serializers.IntegerField()


# ---- similarity ------------------------------------------------------------------------------------------------
class _SimilarityOptions(serializers.Serializer):
    feature_version = _version_field(required=False)
    k = serializers.IntegerField(min_value=1, max_value=settings.CADML_SIMILARITY_MAX_K, default=10)
    min_score = serializers.FloatField(min_value=-1.0, max_value=1.0, required=False, allow_null=True,
                                       default=None)
    filters = serializers.DictField(required=False, default=dict, help_text="Exact match on meta fields.")
    min_generation = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    match = serializers.ChoiceField(
        choices=list(MATCH_MODES), default="any",
        help_text="v5 only: `any` (every result, each labelled with its match kind), `shape` (the same shape at any "
                  "size: exact, duplicate, same_shape_other_scale) or `duplicate` (the same part at this size: exact, "
                  "duplicate). Other versions accept only `any`.")


class SimilaritySearchInput(_SimilarityOptions):
    vector = _JsonList(max_items=10_000, required=False, allow_null=True, default=None)
    key = serializers.CharField(max_length=255, required=False, allow_null=True, default=None)
    cad_file = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, allow_null=True, default=None,
                                      help_text="v5: sha256 of the content the query vector comes from; results "
                                                "registered from the same content are labelled `exact` (a key "
                                                "query uses its vector's meta.cad_file).")

    def validate(self, attrs):
        if (attrs["vector"] is None) == (attrs["key"] is None):
            raise serializers.ValidationError("give exactly one of vector or key")
        return attrs


class SimilarityResult(serializers.Serializer):
    key = serializers.CharField()
    score = serializers.FloatField(help_text="v1-v4: exact cosine similarity. v5: a score in [0, 1], 1 only for an "
                                             "identical vector, 0.5 at the calibrated same-shape threshold "
                                             "(docs/features.md).")
    meta = serializers.JSONField()
    match = serializers.ChoiceField(choices=list(MATCH_KINDS), required=False,
                                    help_text="v5 only: exact (same content sha256), duplicate (same shape, same "
                                              "size within 2 %), same_shape_other_scale, or similar.")
    scale_factor = serializers.FloatField(required=False, help_text="v5 only: result size / query size (RMS "
                                                                    "radius in millimetres).")
    unit_mismatch_suspected = serializers.BooleanField(
        required=False, help_text="v5 only: same_shape_other_scale with a factor within 2 % of 25.4, 10, 1000 or "
                                  "their inverses (inches, centimetres or metres read as millimetres).")
    shape_distance = serializers.FloatField(required=False, help_text="v5 only: Euclidean distance of the "
                                                                      "standardised shape slots.")


class SimilaritySearchOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    results = SimilarityResult(many=True)
    backend = serializers.ChoiceField(choices=["faiss", "memory"])
    degraded = serializers.BooleanField()
    generation = serializers.IntegerField()


class SimilarityBatchInput(_SimilarityOptions):
    queries = _JsonList(max_items=settings.CADML_SIMILARITY_BATCH_MAX, item_type=dict,
                        help_text="Each {\"vector\": [...]} or {\"key\": ...}.")


class SimilarityBatchOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    results = serializers.ListField(child=SimilarityResult(many=True))
    backend = serializers.ChoiceField(choices=["faiss", "memory"])
    degraded = serializers.BooleanField()
    generation = serializers.IntegerField()


# ---- index -----------------------------------------------------------------------------------------------------
class IndexStatusInput(serializers.Serializer):
    feature_version = _version_field(required=False)


class IndexEventOutput(serializers.Serializer):
    event = serializers.CharField()
    reason = serializers.CharField()
    detail = serializers.CharField()
    actor = serializers.CharField()
    at = serializers.DateTimeField()


class IndexVersionStatusOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    mode = serializers.CharField()
    degraded = serializers.BooleanField()
    size = serializers.IntegerField()
    generation = serializers.IntegerField()
    degraded_since = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    duration_seconds = serializers.FloatField()
    drill_until = serializers.DateTimeField(allow_null=True)
    next_attempt_in_seconds = serializers.FloatField(allow_null=True)
    suppression_left_seconds = serializers.FloatField()
    recovery_failures = serializers.IntegerField()
    last_error = serializers.CharField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_result = serializers.CharField()
    snapshot = serializers.JSONField()
    this_process = serializers.JSONField(allow_null=True)
    events = IndexEventOutput(many=True)


class IndexStatusOutput(serializers.Serializer):
    versions = IndexVersionStatusOutput(many=True)


class IndexActionInput(serializers.Serializer):
    feature_version = _version_field(required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class IndexDegradeInput(serializers.Serializer):
    feature_version = _version_field(required=False)
    reason = serializers.CharField(max_length=2000)
    duration_seconds = serializers.IntegerField(min_value=1, max_value=86_400, required=False, allow_null=True,
                                                default=None)


class IndexActionOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    result = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    snapshot_generation = serializers.IntegerField(allow_null=True)


class IndexDegradeOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    degraded = serializers.BooleanField()
    reason = serializers.CharField()
    drill_until = serializers.DateTimeField()


# ---- migration -------------------------------------------------------------------------------------------------
class MigrationPreviewInput(serializers.Serializer):
    from_version = _version_field()
    to_version = _version_field()
    limit = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False, allow_null=True,
                                     default=None)

    def to_internal_value(self, data):
        data = {("from_version" if k == "from" else "to_version" if k == "to" else k): v for k, v in data.items()}
        return super().to_internal_value(data)


class MigrationPreviewOutput(serializers.Serializer):
    from_version = serializers.CharField(source="from")
    to_version = serializers.CharField(source="to")
    dimension_from = serializers.IntegerField()
    dimension_to = serializers.IntegerField()
    dimension_delta = serializers.IntegerField()
    counts = serializers.JSONField()
    stats = serializers.JSONField()
    warnings = serializers.ListField(child=serializers.CharField())
    source_total = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True)


class MigrationStartInput(MigrationPreviewInput):
    limit = None
    dry_run = serializers.BooleanField(default=False)


class MigrationRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    from_version = serializers.CharField()
    to_version = serializers.CharField()
    dry_run = serializers.BooleanField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    stats = serializers.JSONField()
    error = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
