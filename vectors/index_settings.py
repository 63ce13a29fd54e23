"""The index's knobs as the settings give them: the Faiss index configuration and the recovery policy.

Read by the process-local holder (``vectors.runtime``) and by the index services (rebuild, recovery); kept in its
own module so neither has to import the other for them.
"""

from __future__ import annotations

from django.conf import settings

from vectors.index.faiss_store import IndexConfig
from vectors.index.recovery_policy import RecoveryPolicy


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
