"""Input and output serializers of the cache endpoints (bounds are checked by the services)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from cachectl.core import POLICIES
from cadml_site.api.inputs import JsonInput

REASON = {"max_length": 2000}


class CacheSettingsOutput(serializers.Serializer):
    capacity = serializers.IntegerField()
    ttl_seconds = serializers.IntegerField()
    policy = serializers.CharField()
    generation = serializers.IntegerField()
    prewarm_generation = serializers.IntegerField()


class CacheWindowOutput(serializers.Serializer):
    change_id = serializers.IntegerField()
    kind = serializers.CharField()
    opened_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    seconds_left = serializers.FloatField()
    expired = serializers.BooleanField()
    age_seconds = serializers.FloatField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    actor = serializers.CharField()


class CacheChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField()
    reason = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    generation = serializers.IntegerField()
    snapshot_id = serializers.IntegerField()
    restored_from_id = serializers.IntegerField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.CharField()


class CacheSnapshotOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    capacity = serializers.IntegerField()
    ttl_seconds = serializers.IntegerField()
    policy = serializers.CharField()
    generation = serializers.IntegerField()
    stats = serializers.JSONField()
    taken_by = serializers.CharField()
    reason = serializers.CharField()


class CacheStatusOutput(serializers.Serializer):
    settings = CacheSettingsOutput()
    bounds = serializers.JSONField()
    stats = serializers.JSONField(help_text="This process's tiers: hits, misses, ratios (since start and last "
                                            "hour), size, capacity, evictions, expirations, shared tier.")
    rollback_window = CacheWindowOutput(allow_null=True)
    rollback_window_seconds = serializers.IntegerField()
    recent_changes = CacheChangeOutput(many=True)


class CacheApplyInput(JsonInput):
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=settings.CADML_CACHE_MAX_CAPACITY)
    ttl_seconds = serializers.IntegerField(required=False, min_value=1,
                                           max_value=settings.CADML_CACHE_MAX_TTL_SECONDS)
    policy = serializers.ChoiceField(choices=POLICIES, required=False)
    reason = serializers.CharField(**REASON)

    # at least one setting to change (the service answers nothing_to_apply otherwise)
    schema_any_of = [{"required": ["capacity"]}, {"required": ["ttl_seconds"]}, {"required": ["policy"]}]

    def validate(self, attrs):
        if not {"capacity", "ttl_seconds", "policy"} & set(attrs):
            raise serializers.ValidationError("give capacity, ttl_seconds and/or policy")
        return attrs


class CacheReasonInput(JsonInput):
    reason = serializers.CharField(**REASON)


class CacheConfirmInput(JsonInput):
    reason = serializers.CharField(required=False, allow_blank=True, default="", **REASON)


class CacheChangeResultOutput(serializers.Serializer):
    change = CacheChangeOutput()
    settings = CacheSettingsOutput()
    rollback_window = CacheWindowOutput(allow_null=True)


API_MAX_PREWARM_LIMIT = 10_000  # ~1-2 ms per entry: stays well inside the worker timeout


class CachePrewarmInput(JsonInput):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=API_MAX_PREWARM_LIMIT,
        help_text=f"Default: the cache capacity, at most {API_MAX_PREWARM_LIMIT}. Larger prewarms: "
                  "manage.py cache_prewarm.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", **REASON)


class CachePrewarmOutput(serializers.Serializer):
    generation = serializers.IntegerField()
    limit = serializers.IntegerField()
    tiers = serializers.DictField(child=serializers.IntegerField(),
                                  help_text="Planned entries per priority tier.")
    loaded = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
