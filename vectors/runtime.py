"""The process-local index holder of this process, created lazily and reset after fork."""

from __future__ import annotations

import threading

from django.conf import settings

from features.extractors import dimension
from vectors.index.faiss_store import IndexConfig
from vectors.index.holder import IndexHolder
from vectors.index.recovery_policy import RecoveryPolicy
from vectors.index_source import DatabaseIndexSource

_holder: IndexHolder | None = None
_lock = threading.Lock()


def index_config() -> IndexConfig:
    return IndexConfig(hnsw_threshold=settings.CADML_HNSW_THRESHOLD, hnsw_m=settings.CADML_HNSW_M,
                       hnsw_ef_construction=settings.CADML_HNSW_EF_CONSTRUCTION,
                       hnsw_ef_search=settings.CADML_HNSW_EF_SEARCH)


def recovery_policy() -> RecoveryPolicy:
    return RecoveryPolicy(base_seconds=settings.CADML_RECOVERY_BASE_SECONDS, factor=settings.CADML_RECOVERY_FACTOR,
                          cap_seconds=settings.CADML_RECOVERY_CAP_SECONDS,
                          flap_threshold=settings.CADML_FLAP_THRESHOLD,
                          flap_window_seconds=settings.CADML_FLAP_WINDOW_SECONDS,
                          suppression_seconds=settings.CADML_FLAP_PAUSE_SECONDS)


def index_holder() -> IndexHolder:
    global _holder
    with _lock:
        if _holder is None:
            _holder = IndexHolder(DatabaseIndexSource(dimension), snapshot_root=settings.CADML_INDEX_DIR,
                                  dimension_of=dimension, config=index_config())
        return _holder


def reset_index_holder() -> None:
    """Drops this process's holder (after fork, in tests); the next search loads afresh."""
    global _holder
    with _lock:
        _holder = None


def load_indexes_after_fork() -> None:
    """Process initialiser: a fresh holder, loaded for every feature version that has an index state."""
    from vectors.models import IndexState

    reset_index_holder()
    holder = index_holder()
    for feature_version in IndexState.objects.values_list("feature_version", flat=True):
        holder.prepare(feature_version)
