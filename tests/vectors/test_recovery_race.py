"""Manual recovery racing the automatic loop: one rebuild at a time, through the lease row, on any database."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from tests.vectors.conftest import make_vectors, register
from vectors.errors import RebuildInProgress
from vectors.models import IndexEvent, IndexState
from vectors.services import index_mark_degraded, index_recover, index_recovery_tick
from vectors.services import index_ops


@pytest.mark.django_db(transaction=True)
def test_manual_recovery_racing_the_automatic_loop_runs_one_rebuild(monkeypatch):
    register("v4", make_vectors(100, 24))
    index_mark_degraded(feature_version="v4", reason="search_failed", error="boom")
    real_rebuild = index_ops._rebuild_snapshot
    inside, other_done = threading.Event(), threading.Event()
    rebuilds = []

    def held_rebuild(feature_version):
        rebuilds.append(threading.current_thread().name)
        inside.set()
        assert other_done.wait(30), "the other attempt never finished"
        return real_rebuild(feature_version)

    monkeypatch.setattr(index_ops, "_rebuild_snapshot", held_rebuild)
    outcome = {}

    def automatic():
        try:
            outcome["auto"] = [r.result for r in index_recovery_tick(now=timezone.now() + timedelta(seconds=11))]
        finally:
            connections.close_all()

    def manual():
        assert inside.wait(30)
        try:
            index_recover(feature_version="v4", actor="ops-alice", reason="now please")
            outcome["manual"] = "success"
        except RebuildInProgress as exc:
            outcome["manual"] = exc.code
        finally:
            connections.close_all()
            other_done.set()

    threads = [threading.Thread(target=automatic, name="auto"), threading.Thread(target=manual, name="manual")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcome == {"auto": ["success"], "manual": "rebuild_in_progress"}
    assert rebuilds == ["auto"]
    assert list(IndexEvent.objects.order_by("id").values_list("event", flat=True)) == ["degraded", "restored"]
    assert not IndexState.objects.get().degraded
