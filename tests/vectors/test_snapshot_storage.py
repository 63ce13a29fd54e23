"""Snapshots published through the ``index_snapshots`` storage and fetched by a host whose own folder lacks them
(two hosts here: two ``CADML_INDEX_DIR`` folders and a fresh process-local holder), on the filesystem backend and
on S3 (moto)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.conftest import mocked_s3_storage, storage_check_ids
from tests.vectors.conftest import make_vectors, register
from vectors.index.snapshot import MANIFEST, read_manifest
from vectors.models import IndexState
from vectors.runtime import index_holder, reset_index_holder
from vectors.selectors import vector_similarity_search
from vectors.services import index_rebuild, vector_delete
from vectors.snapshot_storage import KEEP_GENERATIONS, snapshots_storage

pytestmark = pytest.mark.django_db
BUCKET = "cadml-snapshots-test"


def _transfers(direction, result):
    return REGISTRY.get_sample_value("index_snapshot_transfers_total", {"direction": direction,
                                                                       "result": result}) or 0.0


@pytest.fixture
def seeded():
    vectors = make_vectors(120, 24, seed=11)
    keys = register("v4", vectors)
    return vectors, keys


def _host_b(settings, tmp_path):
    """Turns this process into a second host: its own empty snapshot folder and no loaded index."""
    settings.CADML_INDEX_DIR = tmp_path / "host-b-index"
    reset_index_holder()


def _search(vectors, row=0):
    return vector_similarity_search(feature_version="v4", vector=vectors[row].tolist(), k=3)


def test_rebuild_publishes_and_another_host_loads_the_published_snapshot(seeded, settings, tmp_path):
    vectors, keys = seeded
    published = _transfers("publish", "success")
    index_rebuild(feature_version="v4", actor="ops-alice", reason="first snapshot")
    manifest = read_manifest(settings.CADML_INDEX_DIR, "v4")
    storage = snapshots_storage()
    assert sorted(storage.listdir(f"v4/{manifest.generation}")[1]) == sorted(
        [MANIFEST, manifest.index_file, manifest.ids_file])
    assert _transfers("publish", "success") == published + 1
    vector_delete(feature_version="v4", key=keys[0], actor="ops-alice")

    _host_b(settings, tmp_path)
    fetched = _transfers("fetch", "success")
    result = _search(vectors)
    assert result["degraded"] is False and keys[0] not in [hit["key"] for hit in result["results"]]
    assert _transfers("fetch", "success") == fetched + 1
    assert read_manifest(settings.CADML_INDEX_DIR, "v4") == manifest
    version = index_holder().loaded()["v4"]
    assert version.backend == "faiss" and version.shared
    assert IndexState.objects.get().degraded is False


def test_a_corrupt_published_object_is_not_used_and_the_version_degrades(seeded, settings, tmp_path):
    vectors, _ = seeded
    index_rebuild(feature_version="v4", actor="ops-alice", reason="first snapshot")
    manifest = read_manifest(settings.CADML_INDEX_DIR, "v4")
    path = settings.STORAGES["index_snapshots"]["OPTIONS"]["location"]
    target = f"{path}/v4/{manifest.generation}/{manifest.ids_file}"
    data = bytearray(open(target, "rb").read())
    data[0] ^= 0x01
    open(target, "wb").write(bytes(data))

    _host_b(settings, tmp_path)
    corrupt = _transfers("fetch", "corrupt")
    assert _search(vectors)["degraded"] is True
    assert _transfers("fetch", "corrupt") == corrupt + 1
    assert IndexState.objects.get().degraded_reason == "snapshot_missing"
    assert not (settings.CADML_INDEX_DIR / "v4" / manifest.ids_file).exists()


def test_a_missing_published_snapshot_counts_missing(seeded, settings, tmp_path):
    vectors, _ = seeded
    index_rebuild(feature_version="v4", actor="ops-alice", reason="first snapshot")
    generation = IndexState.objects.get().snapshot_generation
    storage = snapshots_storage()
    for name in storage.listdir(f"v4/{generation}")[1]:
        storage.delete(f"v4/{generation}/{name}")

    _host_b(settings, tmp_path)
    missing = _transfers("fetch", "missing")
    assert _search(vectors)["degraded"] is True
    assert _transfers("fetch", "missing") == missing + 1


def test_publishing_keeps_the_newest_generations_only(seeded, settings):
    vectors, keys = seeded
    generations = []
    for key in keys[:KEEP_GENERATIONS + 1]:
        vector_delete(feature_version="v4", key=key, actor="ops-alice")
        generations.append(index_rebuild(feature_version="v4", actor="ops-alice").snapshot_generation)
    kept = sorted(int(g) for g in snapshots_storage().listdir("v4")[0] if snapshots_storage().listdir(f"v4/{g}")[1])
    assert kept == sorted(generations)[-KEEP_GENERATIONS:]


def test_snapshots_round_trip_through_s3(seeded, settings, tmp_path, monkeypatch):
    vectors, _ = seeded
    with mocked_s3_storage(settings, monkeypatch, alias="index_snapshots", bucket=BUCKET,
                           location="index-snapshots") as client:
        index_rebuild(feature_version="v4", actor="ops-alice", reason="first snapshot")
        manifest = read_manifest(settings.CADML_INDEX_DIR, "v4")
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"])
        assert keys == sorted(f"index-snapshots/v4/{manifest.generation}/{name}"
                              for name in (MANIFEST, manifest.index_file, manifest.ids_file))
        _host_b(settings, tmp_path)
        fetched = _transfers("fetch", "success")
        assert _search(vectors)["degraded"] is False
        assert _transfers("fetch", "success") == fetched + 1
        assert read_manifest(settings.CADML_INDEX_DIR, "v4") == manifest


def test_system_check_refuses_an_unwritable_snapshots_folder(tmp_path, settings):
    def ids(location):
        return storage_check_ids(settings, "index_snapshots", "django.core.files.storage.FileSystemStorage", location)

    assert "cadml.E011" not in ids(tmp_path / "not-yet" / "snapshots")  # created on the first publication
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert "cadml.E011" in ids(blocker / "snapshots")
