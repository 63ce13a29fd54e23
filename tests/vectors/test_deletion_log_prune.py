"""The deletion log is pruned up to the recorded snapshot, and searches stay exact after pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.vectors.conftest import make_vectors, register
from vectors.models import IndexState, VectorDeletion
from vectors.runtime import reset_index_holder
from vectors.selectors import vector_similarity_search
from vectors.services import index_rebuild, vector_delete, vector_deletion_log_prune

pytestmark = pytest.mark.django_db


def _age_log(days: int) -> None:
    VectorDeletion.objects.update(created_at=timezone.now() - timedelta(days=days))


def _keys(vector) -> list[str]:
    return [r["key"] for r in vector_similarity_search(feature_version="v4", vector=vector.tolist(), k=10)["results"]]


def test_rows_up_to_the_recorded_snapshot_are_pruned_once_past_retention(settings):
    settings.CADML_VECTOR_DELETION_RETENTION_DAYS = 7
    vectors = make_vectors(60, 24, seed=61)
    keys = register("v4", vectors)
    for key in keys[:3]:
        vector_delete(key=key, feature_version="v4", actor="ops-alice")
    assert vector_deletion_log_prune() == {}  # no snapshot recorded yet: every row may still be needed
    index_rebuild(feature_version="v4", actor="ops-alice", reason="snapshot")
    snapshot = IndexState.objects.get(feature_version="v4").snapshot_generation
    vector_delete(key=keys[3], feature_version="v4", actor="ops-alice")  # after the snapshot: needed to catch up
    _age_log(days=3)
    assert vector_deletion_log_prune() == {}  # within retention
    _age_log(days=8)
    assert vector_deletion_log_prune() == {"v4": 3}
    assert list(VectorDeletion.objects.values_list("key", flat=True)) == [keys[3]]
    assert VectorDeletion.objects.get().generation > snapshot


def test_searches_stay_exact_after_pruning_in_old_and_new_processes(settings):
    settings.CADML_VECTOR_DELETION_RETENTION_DAYS = 0
    vectors = make_vectors(80, 24, seed=62)
    keys = register("v4", vectors)
    assert _keys(vectors[5])[0] == keys[5]  # this process holds the version at the current generation
    vector_delete(key=keys[5], feature_version="v4", actor="ops-alice")
    index_rebuild(feature_version="v4", actor="ops-alice", reason="snapshot")
    vector_delete(key=keys[6], feature_version="v4", actor="ops-alice")
    assert vector_deletion_log_prune(now=timezone.now() + timedelta(seconds=1)) == {"v4": 1}
    # this process loaded before the rebuild: the epoch changed, so it reloads rather than catching up
    assert keys[5] not in _keys(vectors[5]) and keys[6] not in _keys(vectors[6])
    reset_index_holder()  # a process starting now: snapshot + changes since, with the pruned log
    assert keys[5] not in _keys(vectors[5]) and keys[6] not in _keys(vectors[6])
    assert _keys(vectors[7])[0] == keys[7]


def test_prune_beat_entry_runs_the_task(settings):
    import vectors.tasks  # noqa: F401  (what the worker's autodiscovery imports)
    from cadml_site.celery import app

    settings.CADML_VECTOR_DELETION_RETENTION_DAYS = 0
    entry = settings.CELERY_BEAT_SCHEDULE["vectors-deletion-log-prune"]
    assert entry["task"] == "vectors.tasks.vector_deletion_log_prune_task" and entry["schedule"] > 0
    keys = register("v4", make_vectors(10, 24, seed=63))
    vector_delete(key=keys[0], feature_version="v4", actor="ops-alice")
    index_rebuild(feature_version="v4", actor="ops-alice", reason="snapshot")
    _age_log(days=1)
    assert app.tasks[entry["task"]].delay().get() == {"v4": 1}
    assert not VectorDeletion.objects.exists()
