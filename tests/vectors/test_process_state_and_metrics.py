import pytest

from cadml_site.process_state import run_process_initializers
from tests.metrics import metric_value
from tests.vectors.conftest import make_vectors, register
from vectors.runtime import index_holder
from vectors.selectors import vector_similarity_search, vector_similarity_search_batch
from vectors.services import index_degrade_drill

pytestmark = pytest.mark.django_db


def test_process_initializer_loads_every_version_with_state():
    register("v4", make_vectors(50, 24))
    register("v3", make_vectors(20, 22))
    assert run_process_initializers()["vectors"] == "ok"
    loaded = index_holder().loaded()
    assert {v: (x.backend, x.store.count, x.generation) for v, x in loaded.items()} == {
        "v4": ("faiss", 50, 1), "v3": ("faiss", 20, 1)}


def test_query_latency_is_observed_per_backend_and_batch_size_range():
    vectors = make_vectors(30, 24)
    register("v4", vectors)
    faiss_before = metric_value("vector_query_latency_seconds_count", backend="faiss")
    memory_before = metric_value("vector_query_latency_seconds_count", backend="memory")
    batch_before = metric_value("vector_query_batch_latency_seconds_count", batch_size_range="11-100")
    vector_similarity_search(feature_version="v4", vector=vectors[0].tolist())
    index_degrade_drill(feature_version="v4", reason="metrics", actor="t")
    vector_similarity_search(feature_version="v4", vector=vectors[0].tolist())
    vector_similarity_search_batch(feature_version="v4", queries=[{"vector": v.tolist()} for v in vectors[:12]])
    assert metric_value("vector_query_latency_seconds_count", backend="faiss") == faiss_before + 1
    assert metric_value("vector_query_latency_seconds_count", backend="memory") == memory_before + 1
    assert metric_value("vector_query_batch_latency_seconds_count", batch_size_range="11-100") == batch_before + 1


def test_recovery_beat_entry_runs_the_tick_task(settings):
    from datetime import timedelta

    from django.utils import timezone

    import vectors.tasks  # noqa: F401  (what the worker's autodiscovery imports)
    from cadml_site.celery import app
    from vectors.models import IndexState
    from vectors.services import index_mark_degraded

    entry = settings.CELERY_BEAT_SCHEDULE["vectors-index-recovery"]
    assert entry["task"] == "vectors.tasks.index_recovery_tick_task" and entry["schedule"] > 0
    register("v4", make_vectors(10, 24))
    index_mark_degraded(feature_version="v4", reason="load_failed", error="boom",
                        now=timezone.now() - timedelta(seconds=20))  # backoff (at most 10 s) has elapsed
    result = app.tasks[entry["task"]].delay().get()
    assert [r["result"] for r in result] == ["success"]
    assert not IndexState.objects.get().degraded
