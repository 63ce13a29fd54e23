"""Serializers of the analysis API: analyze, an analysis, the feature versions and slots."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from cadml_site.api.inputs import Input, QueryInput
from features.extractors import FEATURE_VERSIONS
from features.extractors.v5_match import MATCH_MODES, MIRROR_MODES, V5_OPTIONS_ANY_OF


# Declared on the input serializer and read on its own by the view's API key scope check (the only field that check
# needs: building the whole serializer for it cost a second copy of every field per analyze request).
REGISTER_VECTOR_FIELD = serializers.BooleanField(default=True)


class AnalysisCreateInputSerializer(Input):
    # match other than any and mirror other than same need v5 (400 invalid_query otherwise): the schema says so
    schema_any_of = [dict(alternative) for alternative in V5_OPTIONS_ANY_OF]

    file = serializers.FileField(allow_empty_file=True)
    feature_version = serializers.ChoiceField(choices=FEATURE_VERSIONS, required=False)
    register_vector = REGISTER_VECTOR_FIELD
    classify = serializers.BooleanField(default=True)
    similar_k = serializers.IntegerField(default=0, min_value=0, max_value=settings.CADML_SIMILARITY_MAX_K)
    match = serializers.ChoiceField(
        choices=list(MATCH_MODES), default="any",
        help_text="With similar_k on v5: any (every neighbour, labelled with its match kind), shape (the same shape "
                  "at any size) or duplicate (the same part at this size). Other versions accept only any.")
    mirror = serializers.ChoiceField(
        choices=list(MIRROR_MODES), default="same",
        help_text="With similar_k on v5: same (a mirror image of the file is the same shape) or distinct (a "
                  "same-shape neighbour of opposite handedness is labelled mirror_image and left out by match shape "
                  "and duplicate). Other versions accept only same.")
    vector_key = serializers.CharField(required=False, max_length=255, allow_blank=False)


class FileOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    format = serializers.CharField()
    parser = serializers.CharField()
    parse_seconds = serializers.FloatField()
    created_at = serializers.DateTimeField()
    original_stored = serializers.BooleanField(
        help_text="The original is kept: GET /api/v1/files/{sha256}/content/ returns it.")


class FeaturesOutputSerializer(serializers.Serializer):
    version = serializers.CharField()
    dimension = serializers.IntegerField()
    values = serializers.ListField(child=serializers.FloatField())
    slot_names = serializers.ListField(child=serializers.CharField())


class DuplicateOfOutputSerializer(serializers.Serializer):
    cad_file_id = serializers.IntegerField()
    sha256 = serializers.CharField()
    original_name = serializers.CharField()
    first_seen_at = serializers.DateTimeField()


class AnalysisOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    file = FileOutputSerializer()
    document = serializers.DictField()
    features = FeaturesOutputSerializer()
    reused_file = serializers.BooleanField(help_text="The content had been parsed before: no parse ran.")
    duplicate_of = DuplicateOfOutputSerializer(allow_null=True)
    timings = serializers.DictField(child=serializers.FloatField())
    cache = serializers.DictField()
    vector = serializers.DictField()
    similar = serializers.DictField()
    classification = serializers.DictField()


class FeatureVersionOutputSerializer(serializers.Serializer):
    version = serializers.CharField()
    dimension = serializers.IntegerField()
    added_slots = serializers.IntegerField()
    default = serializers.BooleanField()


class FeatureSlotsInputSerializer(QueryInput):
    version = serializers.ChoiceField(choices=FEATURE_VERSIONS, required=False)


class FeatureSlotOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=["geometric", "semantic", "shape", "size", "auxiliary"],
                                       help_text="v1-v4: geometric or semantic; v5: shape (scale-free, "
                                                 "standardised), size (log10 millimetres) or auxiliary.")
    version = serializers.CharField()
    index = serializers.IntegerField()
