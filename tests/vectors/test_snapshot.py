import io
import json

import numpy as np
import pytest

from vectors.index.errors import SnapshotCorruptError, SnapshotError, SnapshotMissingError
from vectors.index.snapshot import MANIFEST, install_snapshot, read_manifest, read_snapshot, write_snapshot


def _write(root, generation=3, data=b"index-bytes", ids=(1, 2, 3)):
    return write_snapshot(root, feature_version="v4", generation=generation, dimension=24, kind="flat",
                          index_bytes=data, ids=np.array(ids, dtype=np.int64))


def test_round_trip_with_manifest_fields(tmp_path):
    manifest = _write(tmp_path)
    got, data, ids = read_snapshot(tmp_path, "v4", dimension=24)
    assert got == manifest and data == b"index-bytes" and ids.tolist() == [1, 2, 3]
    assert (manifest.count, manifest.generation, manifest.dimension, manifest.feature_version) == (3, 3, 24, "v4")
    assert len(manifest.index_sha256) == 64


def test_new_snapshot_replaces_old_files_and_leaves_no_temporaries(tmp_path):
    first = _write(tmp_path, generation=1)
    second = _write(tmp_path, generation=2, data=b"other")
    names = sorted(p.name for p in (tmp_path / "v4").iterdir())
    assert names == sorted([MANIFEST, second.index_file, second.ids_file])
    assert first.index_file not in names
    assert read_manifest(tmp_path, "v4").generation == 2


def test_flipped_byte_fails_verification(tmp_path):
    manifest = _write(tmp_path)
    path = tmp_path / "v4" / manifest.index_file
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SnapshotCorruptError):
        read_snapshot(tmp_path, "v4", dimension=24)


def test_missing_manifest_or_file(tmp_path):
    with pytest.raises(SnapshotMissingError):
        read_snapshot(tmp_path, "v4", dimension=24)
    manifest = _write(tmp_path)
    (tmp_path / "v4" / manifest.ids_file).unlink()
    with pytest.raises(SnapshotMissingError):
        read_snapshot(tmp_path, "v4", dimension=24)


def test_wrong_dimension_count_or_garbage_manifest(tmp_path):
    manifest = _write(tmp_path)
    with pytest.raises(SnapshotCorruptError):
        read_snapshot(tmp_path, "v4", dimension=16)
    path = tmp_path / "v4" / MANIFEST
    raw = json.loads(path.read_text())
    raw["count"] = 4
    path.write_text(json.dumps(raw))
    with pytest.raises(SnapshotCorruptError):
        read_snapshot(tmp_path, "v4", dimension=24)
    raw["index_file"] = "../../etc/passwd"
    path.write_text(json.dumps(raw))
    with pytest.raises(SnapshotCorruptError):
        read_snapshot(tmp_path, "v4", dimension=24)
    path.write_text("{not json")
    with pytest.raises(SnapshotCorruptError):
        read_snapshot(tmp_path, "v4", dimension=24)
    assert manifest.count == 3


def test_unsafe_version_name_is_refused(tmp_path):
    with pytest.raises(SnapshotError):
        read_snapshot(tmp_path, "../x", dimension=24)


def _install_from(source_root, root, files=None):
    folder = source_root / "v4"
    files = files or {}
    return install_snapshot(root, "v4", (folder / MANIFEST).read_bytes(),
                            lambda name: io.BytesIO(files[name]) if name in files else open(folder / name, "rb"))


def test_install_copies_a_snapshot_from_elsewhere_verified(tmp_path):
    published = _write(tmp_path / "shared", generation=5, data=b"shared-index", ids=(4, 5))
    _write(tmp_path / "host", generation=2)
    assert _install_from(tmp_path / "shared", tmp_path / "host") == published
    got, data, ids = read_snapshot(tmp_path / "host", "v4", dimension=24)
    assert (got.generation, data, ids.tolist()) == (5, b"shared-index", [4, 5])
    assert sorted(p.name for p in (tmp_path / "host" / "v4").iterdir()) == sorted(
        [MANIFEST, published.index_file, published.ids_file])


def test_install_of_a_damaged_file_leaves_the_folder_as_it_was(tmp_path):
    published = _write(tmp_path / "shared", generation=5, data=b"shared-index")
    local = _write(tmp_path / "host", generation=2)
    before = sorted(p.name for p in (tmp_path / "host" / "v4").iterdir())
    with pytest.raises(SnapshotCorruptError):
        _install_from(tmp_path / "shared", tmp_path / "host", files={published.index_file: b"shared-indeX"})
    assert sorted(p.name for p in (tmp_path / "host" / "v4").iterdir()) == before
    assert read_manifest(tmp_path / "host", "v4") == local


def test_install_refuses_a_manifest_naming_a_path(tmp_path):
    _write(tmp_path / "shared")
    path = tmp_path / "shared" / "v4" / MANIFEST
    raw = json.loads(path.read_bytes())
    raw["ids_file"] = "../../outside.bin"
    path.write_text(json.dumps(raw))
    with pytest.raises(SnapshotCorruptError, match="unsafe file"):
        _install_from(tmp_path / "shared", tmp_path / "host")
    assert not (tmp_path / "outside.bin").exists()
