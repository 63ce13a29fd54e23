"""This process's index holder (``vectors.runtime``): held by ``ProcessLocal``, started by loading every feature
version that has an index state, degradations reported through the index service."""

from __future__ import annotations

import pytest

from cadml_site.process_state import process_local
from tests.vectors.conftest import make_vectors, register
from vectors.models import IndexEvent, IndexState
from vectors.runtime import index_holder, index_holders, reset_index_holder

pytestmark = pytest.mark.django_db


def test_the_holder_is_the_registered_process_local():
    assert process_local("vectors.index_holder") is index_holders
    assert index_holder() is index_holders.current() is index_holder()


def test_a_holder_built_on_first_use_loads_every_version_with_an_index_state():
    register("v4", make_vectors(40, 24))
    register("v3", make_vectors(15, 22))
    reset_index_holder()
    assert index_holders.current() is None
    loaded = index_holder().loaded()
    assert {v: (x.store.count, x.generation) for v, x in loaded.items()} == {"v4": (40, 1), "v3": (15, 1)}


def test_the_holder_reports_a_degradation_through_the_index_service(monkeypatch):
    register("v4", make_vectors(20, 24))
    reset_index_holder()
    monkeypatch.setattr(index_holder(), "faiss_loader", lambda: (_ for _ in ()).throw(RuntimeError("no faiss")))
    IndexState.objects.filter(feature_version="v4").update(epoch=99)  # another process rebuilt: reload
    assert index_holder().prepare("v4").backend == "memory"
    state = IndexState.objects.get(feature_version="v4")
    assert state.degraded and state.degraded_reason == "build_failed" and "no faiss" in state.last_error
    assert IndexEvent.objects.filter(feature_version="v4", event=IndexEvent.Kind.DEGRADED).count() == 1
