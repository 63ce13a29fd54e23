"""What the model services read from settings and the registry row: limits, scanner mode, model directory."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from modelops.models import ModelRegistryState
from modelops.security.intake import IntakeLimits, read_model_file
from modelops.security.scanner import ScanLimits


def intake_limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=settings.CADML_MODEL_MAX_BYTES,
                        max_decompressed_bytes=settings.CADML_MODEL_MAX_DECOMPRESSED_BYTES,
                        max_ratio=settings.CADML_MODEL_MAX_DECOMPRESSION_RATIO)


def scan_limits() -> ScanLimits:
    return ScanLimits(max_opcodes=settings.CADML_MODEL_SCAN_MAX_OPCODES,
                      max_seconds=settings.CADML_MODEL_SCAN_MAX_SECONDS)


def opcode_mode() -> str:
    return settings.CADML_MODEL_OPCODE_MODE


def hash_allowlist() -> frozenset[str] | None:
    return frozenset(settings.CADML_MODEL_HASH_ALLOWLIST) or None


def model_dir() -> Path:
    path = Path(settings.CADML_MODEL_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o750)
    return path


def read_model_bytes(file_name: str) -> bytes:
    """The bytes of a plain file name inside CADML_MODEL_DIR (no paths, no links), read once."""
    return read_model_file(str(model_dir()), file_name, max_bytes=settings.CADML_MODEL_MAX_BYTES)


def registry_state(*, for_update: bool = False) -> ModelRegistryState:
    ModelRegistryState.objects.get_or_create(pk=1)
    qs = ModelRegistryState.objects.select_related("active")
    return (qs.select_for_update(of=("self",)) if for_update else qs).get(pk=1)


def active_label() -> str | None:
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    return state.active.label if state and state.active_id else None


def expected_dimension(feature_version: str) -> int | None:
    if not feature_version:
        return None
    from features.extractors import dimension

    return dimension(feature_version)
