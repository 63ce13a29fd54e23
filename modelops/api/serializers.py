"""Input and output serializers of the modelops endpoints (one pair per operation)."""

from __future__ import annotations

from rest_framework import serializers

from cadml_site.api.inputs import Input, JsonInput
from features.extractors import FEATURE_VERSIONS

FEATURE_VERSION_CHOICES = FEATURE_VERSIONS
SHA256_FIELD = {"max_length": 64, "min_length": 64}


class ModelVersionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    sha256 = serializers.CharField()
    status = serializers.CharField()
    size = serializers.IntegerField()
    container = serializers.CharField()
    compression = serializers.CharField()
    protocol = serializers.IntegerField(allow_null=True)
    feature_version = serializers.CharField()
    estimator = serializers.CharField()
    n_features = serializers.IntegerField(allow_null=True)
    classes = serializers.JSONField()
    metrics = serializers.JSONField()
    scan_report = serializers.JSONField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    loaded_at = serializers.DateTimeField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)


class ModelVersionUploadInput(Input):
    file = serializers.FileField(allow_empty_file=False)
    label = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    feature_version = serializers.ChoiceField(choices=FEATURE_VERSION_CHOICES, required=False, default="")
    reason = serializers.CharField(max_length=2000, required=False, default="")


class ModelVersionRegisterInput(JsonInput):
    file_name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$",
                                       help_text="A plain file name inside CADML_MODEL_DIR (no paths).")
    label = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    feature_version = serializers.ChoiceField(choices=FEATURE_VERSION_CHOICES, required=False, default="")
    reason = serializers.CharField(max_length=2000, required=False, default="")


class ModelReloadInput(JsonInput):
    version = serializers.CharField(max_length=100, required=False, help_text="Label or id of the version.")
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False)
    expected_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False)
    reason = serializers.CharField(max_length=2000, required=False, default="")

    schema_any_of = [{"required": ["version"]}, {"required": ["sha256"]}]

    def validate(self, attrs):
        if not attrs.get("version") and not attrs.get("sha256"):
            raise serializers.ValidationError("give a version (label or id) or a sha256")
        return attrs


class ModelReloadOutput(serializers.Serializer):
    version = ModelVersionOutput()
    load_sequence = serializers.IntegerField()
    mode = serializers.CharField()


class ModelRollbackInput(JsonInput):
    reason = serializers.CharField(max_length=2000, required=False, default="")


class ModelBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    sha256 = serializers.CharField()
    status = serializers.CharField()
    feature_version = serializers.CharField()
    estimator = serializers.CharField()
    loaded_at = serializers.DateTimeField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)


class ModelStatusOutput(serializers.Serializer):
    active = ModelBriefOutput(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    loaded_at = serializers.DateTimeField(allow_null=True)
    load_sequence = serializers.IntegerField()
    mode = serializers.CharField()
    previous = ModelBriefOutput(many=True)
    last_error = serializers.JSONField(allow_null=True)
    process = serializers.JSONField()


class OpcodeAuditRowOutput(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField()
    samples = serializers.IntegerField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    sample_versions = serializers.ListField(child=serializers.CharField())


class OpcodeAuditOutput(serializers.Serializer):
    mode = serializers.CharField()
    opcodes = OpcodeAuditRowOutput(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    globals = OpcodeAuditRowOutput(many=True)
    total_samples = serializers.IntegerField()


class ModelPredictInput(JsonInput):
    values = serializers.ListField(child=serializers.FloatField(), min_length=1, max_length=4096)
    feature_version = serializers.ChoiceField(choices=FEATURE_VERSION_CHOICES)


class ProbabilityOutput(serializers.Serializer):
    label = serializers.JSONField()
    probability = serializers.FloatField()


class ModelPredictOutput(serializers.Serializer):
    label = serializers.JSONField()
    probabilities = ProbabilityOutput(many=True)
    model_version = serializers.CharField()
