"""v4 -> v5 through the preview/apply machinery: summaries stored before v5 are re-parsed from the stored original
in the parse pool; vectors whose original is not stored are skipped and counted as needs_source, never zero-padded.
The analyze path re-parses a reused file whose summary predates v5 the same way."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from features.extractors import NeedsSource, dimension, extract_features
from features.models import CadFile
from features.parsers.dispatch import parse_document
from features.selectors import stored_features
from features.services import cad_file_reparse
from tests.vectors.conftest import make_vectors, register
from vectors.models import MigrationRun, Vector
from vectors.selectors import migration_preview, served_feature_version

pytestmark = pytest.mark.django_db

SAMPLES = ["stl/trimesh__featuretype.STL", "obj/trimesh__cube.OBJ", "step/pythonocc__test_ocaf.stp",
           "dxf/trimesh__wrench.dxf", "iges/pyiges__sample.igs"]


def analyze(client, name: str, data: bytes, **fields):
    return client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(name, data), "classify": "false", **fields},
                       format="multipart")


def _existing_samples(root):
    paths = [root / s for s in SAMPLES if (root / s).is_file()]
    assert len(paths) == len(SAMPLES), "the chosen shared samples moved"
    return paths


def _as_before_v5(sha256: str) -> None:
    """The row as an installation stored it before v5: a summary without the shape descriptor."""
    row = CadFile.objects.get(sha256=sha256)
    summary = dict(row.summary)
    summary.pop("shape", None)
    CadFile.objects.filter(pk=row.pk).update(summary=summary)


def _as_before_originals(sha256: str, originals_dir) -> None:
    row = CadFile.objects.get(sha256=sha256)
    (originals_dir / row.original_key).unlink()
    CadFile.objects.filter(pk=row.pk).update(original_key="", original_stored_at=None)


@pytest.fixture
def v4_installation(settings, key_client, cad_samples_dir, originals_dir):
    """A v4 installation: shared samples analyzed in v4, summaries from before v5; the last one also from before
    originals were kept; plus 3 vectors a client registered without any file."""
    from cachectl.holder import holder

    settings.CADML_FEATURE_VERSION = "v4"
    settings.CADML_CACHE_REDIS_URL = None
    holder.reset()  # v5 values of these samples cached by an earlier test would stand in for the re-parse
    files = []
    for path in _existing_samples(cad_samples_dir):
        data = path.read_bytes()
        response = analyze(key_client, path.name, data)
        assert response.status_code == 201, (path, response.json())
        assert response.json()["features"]["version"] == "v4"
        files.append((hashlib.sha256(data).hexdigest(), path, data))
    for sha256, _, _ in files:
        _as_before_v5(sha256)
    _as_before_originals(files[-1][0], originals_dir)
    register("v4", make_vectors(3, 24, seed=8), prefix="client-only")
    assert served_feature_version() == "v4"
    return files


def test_preview_counts_reparsed_and_needs_source_without_parsing(v4_installation):
    preview = migration_preview(from_version="v4", to_version="v5")
    n = len(v4_installation)
    assert preview["counts"] == {"total": n + 3, "recomputable": 0, "reparsed": n - 1, "padded": 0, "truncated": 0,
                                 "copied": 0, "needs_source": 1 + 3}
    assert any("4 vectors are skipped (needs_source)" in w and "not zero-padded" in w for w in preview["warnings"])
    assert any(f"{n - 1} vectors are computed by parsing their stored original" in w for w in preview["warnings"])
    assert all("shape" not in row.summary for row in CadFile.objects.all())  # a preview parses nothing


def test_apply_reparses_from_originals_and_skips_needs_source(v4_installation, ops_client, key_client,
                                                              django_capture_on_commit_callbacks):
    from features.parse_pool import get_parse_pool

    n = len(v4_installation)
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post("/api/v1/vectors/migrate/", {"from_version": "v4", "to_version": "v5"},
                                   format="json")
    assert response.status_code == 202
    run = MigrationRun.objects.get(pk=response.json()["id"])
    assert run.status == "completed", run.error
    assert run.stats["counts"] == {"total": n + 3, "recomputable": 0, "reparsed": n - 1, "padded": 0,
                                   "truncated": 0, "copied": 0, "needs_source": 4}
    assert any("needs_source" in w for w in run.stats["warnings"])
    polled = key_client.get(f"/api/v1/vectors/migrate/runs/{run.pk}/").json()
    assert polled["stats"]["counts"]["needs_source"] == 4

    v5_keys = set(Vector.objects.filter(feature_version="v5").values_list("key", flat=True))
    assert v5_keys == {sha256 for sha256, _, _ in v4_installation[:-1]}  # nothing padded in, nothing half-made
    for sha256, path, data in v4_installation[:-1]:
        row = CadFile.objects.get(sha256=sha256)
        assert "shape" in row.summary  # the CadFile summary now holds the new parse
        fresh = extract_features(parse_document(data, name=path.name, pool=get_parse_pool()), "v5")
        migrated = Vector.objects.get(feature_version="v5", key=sha256).as_array()
        assert migrated.shape == (dimension("v5"),)
        np.testing.assert_array_equal(migrated, np.float32(fresh))
    assert served_feature_version() == "v5"

    # the file whose original was not stored: analyze of the same bytes stores it, re-parses and registers v5
    legacy_sha, legacy_path, legacy_data = v4_installation[-1]
    again = analyze(key_client, legacy_path.name, legacy_data)
    assert again.status_code == 201, again.json()
    body = again.json()
    assert body["reused_file"] is True and body["features"]["version"] == "v5"
    assert body["file"]["original_stored"] is True and body["vector"]["status"] == "registered"
    assert Vector.objects.filter(feature_version="v5", key=legacy_sha).exists()


def test_analyze_reparses_a_reused_file_whose_summary_predates_v5(settings, key_client, cad_samples_dir):
    settings.CADML_FEATURE_VERSION = "v5"
    settings.CADML_CACHE_REDIS_URL = None
    path = cad_samples_dir / "stl/trimesh__featuretype.STL"
    data = path.read_bytes()
    first = analyze(key_client, path.name, data).json()
    sha256 = first["file"]["sha256"]
    _as_before_v5(sha256)
    from cachectl.holder import holder

    holder.reset()  # as in a new process: the feature cache does not answer for this content
    second = analyze(key_client, "renamed.stl", data, register_vector="false")
    assert second.status_code == 201, second.json()
    assert second.json()["reused_file"] is True
    assert second.json()["features"]["values"] == first["features"]["values"]
    assert "shape" in CadFile.objects.get(sha256=sha256).summary


def test_a_row_without_original_or_v5_geometry_answers_needs_source(settings, key_client, cad_samples_dir,
                                                                    originals_dir):
    settings.CADML_FEATURE_VERSION = "v4"
    data = (cad_samples_dir / "obj/trimesh__cube.OBJ").read_bytes()
    sha256 = analyze(key_client, "cube.obj", data).json()["file"]["sha256"]
    _as_before_v5(sha256)
    _as_before_originals(sha256, originals_dir)
    row = CadFile.objects.get(sha256=sha256)
    with pytest.raises(NeedsSource):
        extract_features(row.summary, "v5")
    assert stored_features(sha256=sha256, version="v5") is None  # the cache prewarm skips it
    assert stored_features(sha256=sha256, version="v4") is not None
    from cadml_site.errors import Conflict

    with pytest.raises(Conflict) as caught:
        cad_file_reparse(cad_file=row)
    assert caught.value.code == "needs_source" and caught.value.context["reason"] == "original_not_stored"
