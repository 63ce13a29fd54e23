"""Input and output serializers of the vectors API (one pair per operation)."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from cadml_site.api.inputs import JsonInput, QueryInput
from features.extractors import FEATURE_VERSIONS
from features.extractors.v5_match import MATCH_KINDS, MATCH_MODES, MIRROR_MODES, V5_OPTIONS_ANY_OF
from vectors.validation import FILTER_FIELD_RE, KEY_RE, MAX_FILTERS, RESERVED_KEYS


def _version_field(**kw):
    return serializers.ChoiceField(choices=list(FEATURE_VERSIONS), **kw)


def _is_number(item) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


NUMBERS = {"type": "array", "minItems": 1, "items": {"type": "number"}}
KEY = {"type": "string", "pattern": KEY_RE.pattern, "maxLength": 255}
META = {"type": ["object", "null"]}
FILTERS = {
    "type": "object", "maxProperties": MAX_FILTERS, "description": "Exact match on meta fields.",
    "propertyNames": {"pattern": FILTER_FIELD_RE.pattern, "not": {"pattern": "__"}},
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}


class _JsonList(serializers.JSONField):
    """A JSON list checked for type and size only; the service validates its content in one vectorised pass.

    ``items`` is the OpenAPI schema of one item and ``item_check`` the test the serializer applies to each.
    """

    def __init__(self, *, max_items: int, items: dict, item_check=None, **kw):
        self.max_items, self.items, self.item_check = max_items, items, item_check
        super().__init__(**kw)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError("must be a non-empty list")
        if len(data) > self.max_items:
            raise serializers.ValidationError(f"at most {self.max_items} items")
        if self.item_check is not None and not all(self.item_check(item) for item in data):
            raise serializers.ValidationError(f"every item must be {self.items.get('description') or self.items}")
        return data

    def openapi_schema(self, direction) -> dict:  # read by cadml_site.api.schema.CadmlAutoSchema
        schema = {"type": "array", "minItems": 1, "maxItems": self.max_items, "items": dict(self.items)}
        if self.help_text:
            schema["description"] = str(self.help_text)
        return schema


def _is_bulk_item(item) -> bool:
    return isinstance(item, dict) and "key" in item and "values" in item


BULK_ITEM = {"type": "object", "description": "an object {key, values, meta}", "required": ["key", "values"],
             "properties": {"key": {**KEY, "not": {"enum": sorted(RESERVED_KEYS)}}, "values": NUMBERS,
                            "meta": META}}


_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _is_query(item) -> bool:
    """A batch query: an object with exactly one of ``vector`` (a non-empty list of numbers) or ``key`` (a string)."""
    if not isinstance(item, dict) or ("vector" in item) == ("key" in item):
        return False
    if "key" in item:
        return isinstance(item["key"], str) and 1 <= len(item["key"]) <= 255
    vector = item["vector"]
    cad_file = item.get("cad_file")
    if cad_file is not None and not (isinstance(cad_file, str) and _SHA256_RE.fullmatch(cad_file)):
        return False
    return isinstance(vector, list) and bool(vector) and all(_is_number(v) for v in vector)


QUERY_ITEM = {"description": "an object with exactly one of vector (a list of numbers) or key", "oneOf": [
    {"type": "object", "required": ["vector"], "properties": {"vector": NUMBERS, "cad_file": {
        "type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
        "description": "v5: sha256 of the content the vector comes from (exact matches; handedness for "
                       "mirror=distinct)"}},
     "not": {"required": ["key"]}},
    {"type": "object", "required": ["key"], "properties": {"key": {"type": "string", "minLength": 1,
                                                                    "maxLength": 255}},
     "not": {"required": ["vector"]}},
]}


# ---- register / list / get / delete ---------------------------------------------------------------------------
class _KeyField(serializers.CharField):
    """A vector key; the service checks it (422 invalid_key) and the schema states the same rule."""

    def openapi_schema(self, direction) -> dict:
        return {**KEY, "not": {"enum": sorted(RESERVED_KEYS)}}


class _MetaField(serializers.JSONField):
    """Meta of a vector: an object (or null, meaning {}); the service checks it (422 invalid_meta)."""

    def openapi_schema(self, direction) -> dict:
        return dict(META)


class VectorRegisterInput(JsonInput):
    feature_version = _version_field(required=False)
    key = _KeyField(max_length=255, required=False)
    values = _JsonList(max_items=10_000, items={"type": "number", "description": "a number"}, item_check=_is_number,
                       required=False, help_text="One vector (list of numbers).")
    meta = _MetaField(required=False, allow_null=True, default=dict)
    vectors = _JsonList(max_items=settings.CADML_VECTOR_BULK_MAX, items=BULK_ITEM, item_check=_is_bulk_item,
                        required=False, help_text="Bulk: a list of {key, values, meta} objects.")

    # one vector, or a bulk: never both, never a part of one
    schema_one_of = [
        {"required": ["key", "values"], "not": {"required": ["vectors"]}},
        {"required": ["vectors"], "not": {"anyOf": [{"required": ["key"]}, {"required": ["values"]}]}},
    ]

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


class VectorListInput(QueryInput):
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


class VectorDetailInput(QueryInput):
    feature_version = _version_field(required=False)


class VectorDeleteInput(QueryInput):
    feature_version = _version_field(required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class VectorDeleteOutput(serializers.Serializer):
    key = serializers.CharField()
    feature_version = serializers.CharField()
    generation = serializers.IntegerField()


# ---- similarity ------------------------------------------------------------------------------------------------
class _FiltersField(serializers.DictField):
    """Meta filters; the search checks names and values (400 invalid_filter), the schema states the same rules."""

    def openapi_schema(self, direction) -> dict:
        return dict(FILTERS)


class _SimilarityOptions(JsonInput):
    # match other than any and mirror other than same need v5 (400 invalid_query otherwise): the schema says so
    schema_any_of = [dict(alternative) for alternative in V5_OPTIONS_ANY_OF]

    feature_version = _version_field(required=False)
    k = serializers.IntegerField(min_value=1, max_value=settings.CADML_SIMILARITY_MAX_K, default=10)
    min_score = serializers.FloatField(min_value=-1.0, max_value=1.0, required=False, allow_null=True,
                                       default=None)
    filters = _FiltersField(required=False, default=dict)
    min_generation = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False, allow_null=True,
                                              default=None)
    match = serializers.ChoiceField(
        choices=list(MATCH_MODES), default="any",
        help_text="v5 only: `any` (every result, each labelled with its match kind), `shape` (the same shape at any "
                  "size: exact, duplicate, same_shape_other_scale) or `duplicate` (the same part at this size: exact, "
                  "duplicate). Other versions accept only `any`.")
    mirror = serializers.ChoiceField(
        choices=list(MIRROR_MODES), default="same",
        help_text="v5 only: `same` (a mirror image is the same shape: exact, duplicate or same_shape_other_scale) or "
                  "`distinct` (a same-shape result whose handedness is opposite to the query's is labelled "
                  "`mirror_image`, which `match` shape and duplicate leave out; the handedness is read from the stored "
                  "shape descriptor of each side's file: a result's meta.cad_file, the query's cad_file or its key's "
                  "meta.cad_file; undetermined or unknown on either side: cannot tell). Other versions accept only "
                  "`same`.")


class SimilaritySearchInput(_SimilarityOptions):
    vector = _JsonList(max_items=10_000, items={"type": "number", "description": "a number"}, item_check=_is_number,
                       required=False)
    key = serializers.CharField(max_length=255, required=False)
    cad_file = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, allow_null=True, default=None,
                                      help_text="v5: sha256 of the content the query vector comes from; results "
                                                "registered from the same content are labelled `exact`, and its "
                                                "handedness serves mirror=distinct (a key query uses its vector's "
                                                "meta.cad_file).")

    schema_one_of = [{"required": ["vector"]}, {"required": ["key"]}]  # exactly one of them

    def validate(self, attrs):
        if ("vector" in attrs) == ("key" in attrs):
            raise serializers.ValidationError("give exactly one of vector or key")
        return {"vector": None, "key": None, **attrs}


class SimilarityResult(serializers.Serializer):
    key = serializers.CharField()
    score = serializers.FloatField(help_text="v1-v4: exact cosine similarity. v5: a score in [0, 1], 1 only for an "
                                             "identical vector, 0.5 at the calibrated same-shape threshold "
                                             "(docs/features.md).")
    meta = serializers.JSONField()
    match = serializers.ChoiceField(choices=list(MATCH_KINDS), required=False,
                                    help_text="v5 only: exact (same content sha256), duplicate (same shape, same "
                                              "size within 2 %), same_shape_other_scale, similar, or (mirror="
                                              "distinct only) mirror_image: the same shape, opposite handedness.")
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
    queries = _JsonList(max_items=settings.CADML_SIMILARITY_BATCH_MAX, items=QUERY_ITEM, item_check=_is_query,
                        help_text="Each {\"vector\": [...]} (optionally with its \"cad_file\") or {\"key\": ...}.")


class SimilarityBatchOutput(serializers.Serializer):
    feature_version = serializers.CharField()
    results = serializers.ListField(child=SimilarityResult(many=True))
    backend = serializers.ChoiceField(choices=["faiss", "memory"])
    degraded = serializers.BooleanField()
    generation = serializers.IntegerField()


# ---- index -----------------------------------------------------------------------------------------------------
class IndexStatusInput(QueryInput):
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


class IndexActionInput(JsonInput):
    feature_version = _version_field(required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class IndexDegradeInput(JsonInput):
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
class MigrationPreviewInput(QueryInput):
    from_version = _version_field()
    to_version = _version_field()
    limit = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False, default=None)


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


class MigrationStartInput(JsonInput):
    from_version = _version_field()
    to_version = _version_field()
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
