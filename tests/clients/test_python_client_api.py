"""The Python client driving the real Django app (in process, httpx's WSGI transport): each call, its answers and
its errors raised as ProblemError with the problem-details fields."""

from __future__ import annotations

import numpy as np
import pytest
from cadml_client import NO_RETRY, ProblemError

from features.extractors import dimension

STL = "stl/trimesh__20mm-xyz-cube.stl"


def rows(n: int, version: str = "v4", seed: int = 0) -> list[list[float]]:
    return np.random.default_rng(seed).random((n, dimension(version))).round(6).tolist()


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.CADML_MODEL_DIR = tmp_path / "models"
    settings.CADML_MODEL_DIR.mkdir()
    return settings.CADML_MODEL_DIR


def register_model(label: str, seed: int):
    from modelops.security.reference_models import serialise
    from modelops.services import model_version_upload
    from tests.modelops.conftest import fit_for_version

    return model_version_upload(data=serialise(fit_for_version("v4", seed=seed), container="joblib", protocol=4),
                                label=label, feature_version="v4", actor="ops-alice")


def test_health_needs_no_more_than_the_key(api):
    assert api.health()["status"] in ("ok", "degraded")


def test_analyze_a_file_by_path_bytes_or_file_object(api, cad_samples_dir):
    path = cad_samples_dir / STL
    first = api.analyze(path, feature_version="v4", classify=False)
    assert first["file"]["name"] == path.name and first["file"]["format"] == "stl"
    assert first["features"]["version"] == "v4" and len(first["features"]["values"]) == dimension("v4")
    assert first["vector"]["key"] == first["file"]["sha256"]
    again = api.analyze(path.read_bytes(), filename="again.stl", classify=False)
    assert again["reused_file"] is True and again["file"]["sha256"] == first["file"]["sha256"]
    with path.open("rb") as handle:
        assert api.analyze(handle, register_vector=False)["file"]["sha256"] == first["file"]["sha256"]
    assert api.analysis(first["id"])["id"] == first["id"]


def test_search_similar_by_key_vector_and_file(api, cad_samples_dir):
    values = rows(5)
    api.register_vectors([{"key": f"part-{i}", "values": v, "meta": {"lot": i % 2}} for i, v in enumerate(values)],
                         feature_version="v4")
    by_key = api.search_similar(key="part-0", k=3, feature_version="v4")
    assert by_key["feature_version"] == "v4" and len(by_key["results"]) == 3
    by_vector = api.search_similar(vector=values[2], k=1, feature_version="v4")
    assert by_vector["results"][0]["key"] == "part-2" and by_vector["results"][0]["score"] == pytest.approx(1, abs=1e-5)
    filtered = api.search_similar(vector=values[2], k=5, feature_version="v4", filters={"lot": 1})
    assert {r["key"] for r in filtered["results"]} == {"part-1", "part-3"}
    # by file: the stored part is found as its own duplicate, and the search registers nothing
    stored = api.analyze(cad_samples_dir / STL, classify=False)
    before = api.list_vectors(feature_version="v4")["count"]
    by_file = api.search_similar(file=cad_samples_dir / STL, k=3)
    assert by_file["results"][0]["key"] == stored["file"]["sha256"]
    assert by_file["results"][0]["score"] == pytest.approx(1, abs=1e-5)
    assert api.list_vectors(feature_version="v4")["count"] == before
    with pytest.raises(ValueError):
        api.search_similar(key="part-0", vector=values[0])


def test_batch_search(api):
    values = rows(4, seed=1)
    api.register_vectors([{"key": f"b-{i}", "values": v} for i, v in enumerate(values)], feature_version="v4")
    out = api.search_batch([{"key": "b-0"}, {"vector": values[3]}], k=2, feature_version="v4")
    assert len(out["results"]) == 2
    assert [len(hits) for hits in out["results"]] == [2, 2]
    assert out["results"][1][0]["key"] == "b-3"  # by vector: itself first
    assert "b-0" not in {hit["key"] for hit in out["results"][0]}  # by key: the others


def test_register_list_iterate_get_and_delete_vectors(api, ops, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}
    one = api.register_vector("single", rows(1)[0], meta={"material": "steel"}, feature_version="v4")
    assert one["created"] == 1 and one["key"] == "single"
    api.register_vectors([{"key": f"k{i}", "values": v, "meta": {"material": "alu"}} for i, v in enumerate(rows(3))],
                         feature_version="v4")
    page = api.list_vectors(feature_version="v4", meta={"material": "alu"})
    assert page["count"] == 3 and [v["key"] for v in page["results"]][:1] == ["k0"]
    assert [v["key"] for v in api.iter_vectors(feature_version="v4")] == ["k0", "k1", "k2", "single"]
    assert api.get_vector("single", feature_version="v4")["meta"] == {"material": "steel"}
    with pytest.raises(ProblemError) as refused:
        api.delete_vector("single", reason="key only", feature_version="v4")
    assert refused.value.status == 403
    ops.delete_vector("single", reason="duplicate", feature_version="v4")
    with pytest.raises(ProblemError) as missing:
        api.get_vector("single", feature_version="v4")
    assert missing.value.status == 404 and missing.value.code == "vector_not_found"


def test_errors_carry_the_problem_details_fields(api, make_client):
    with pytest.raises(ProblemError) as wrong:
        api.register_vector("short", [0.1] * 7, feature_version="v4")
    error = wrong.value
    assert (error.status, error.code, error.stage) == (422, "dimension_mismatch", "validation")
    assert error.context["expected"] == 24 and error.context["found"] == 7
    assert error.message and error.timestamp and error.request_id and error.type.endswith("dimension_mismatch")
    with pytest.raises(ProblemError) as unknown:
        make_client(api_key="nope.nope", retry=NO_RETRY).model_status()
    assert unknown.value.status == 401 and unknown.value.code


def test_model_status_predict_reload_and_rollback(api, ops, model_dir):
    assert api.model_status()["active"] is None
    with pytest.raises(ProblemError) as no_model:
        api.predict([0.1] * 24, feature_version="v4")
    assert no_model.value.status == 503 and no_model.value.code == "no_active_model"
    register_model("rf-a", seed=1)
    register_model("rf-b", seed=2)
    with pytest.raises(ProblemError) as key_only:
        api.model_reload(version="rf-a", reason="no token")
    assert key_only.value.status == 403
    assert ops.model_reload(version="rf-a", reason="first")["version"]["label"] == "rf-a"
    ops.model_reload(version="rf-b", reason="second")
    predicted = api.predict([0.1] * 24, feature_version="v4")
    assert predicted["model_version"] == "rf-b" and predicted["label"]
    assert ops.model_rollback(reason="back to a")["version"]["label"] == "rf-a"
    assert api.model_status()["active"]["label"] == "rf-a"


def test_cache_apply_and_rollback(api, ops):
    before = api.cache_status()["settings"]["capacity"]
    applied = ops.cache_apply(capacity=before + 10, reason="more room")
    assert api.cache_status()["settings"]["capacity"] == before + 10 and applied
    with pytest.raises(ProblemError) as conflict:
        ops.cache_apply(capacity=before + 20, reason="again")
    assert conflict.value.status == 409 and conflict.value.code == "rollback_window_active"
    ops.cache_rollback(reason="not better")
    assert api.cache_status()["settings"]["capacity"] == before


def test_index_status_recover_and_rebuild(api, ops):
    api.register_vectors([{"key": f"i{i}", "values": v} for i, v in enumerate(rows(3))], feature_version="v4")
    status = api.index_status(feature_version="v4")
    assert [v["feature_version"] for v in status["versions"]] == ["v4"]
    assert ops.index_rebuild(feature_version="v4", reason="fresh snapshot")["result"] == "success"
    assert ops.index_recover(feature_version="v4", reason="drill over")["result"] == "success"


def test_migration_preview_start_and_status(api, ops, django_capture_on_commit_callbacks):
    api.register_vectors([{"key": f"m{i}", "values": v} for i, v in enumerate(rows(4, "v3"))], feature_version="v3")
    preview = api.migration_preview(from_version="v3", to_version="v4", limit=2)
    assert preview["limit"] == 2 and preview["source_total"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        run = ops.migration_start(from_version="v3", to_version="v4", dry_run=True)
    assert run["from_version"] == "v3" and run["dry_run"] is True
    status = api.migration_status(run["id"])
    assert status["id"] == run["id"] and status["status"] == "dry_run" and status["processed"] == 4
    with pytest.raises(ProblemError) as missing:
        api.migration_status(run["id"] + 1000)
    assert missing.value.status == 404


def test_unknown_parameters_are_refused_before_sending(api):
    with pytest.raises(ValueError, match="not parameters"):
        api.call("similarity", body={"key": "x", "top": 3})
    with pytest.raises(ValueError, match="path parameters"):
        api.call("vector_get", path={})


def test_download_the_original_and_the_thumbnail(api, cad_samples_dir):
    from features.models import CadFile
    from features.services import cad_file_thumbnail_render

    path = cad_samples_dir / STL
    sha256 = api.analyze(path, classify=False, register_vector=False)["file"]["sha256"]
    assert api.original(sha256) == path.read_bytes()
    with pytest.raises(ProblemError) as pending:
        api.thumbnail(sha256)  # the render task runs after commit; the test's transaction never commits
    assert pending.value.status == 404 and pending.value.code == "thumbnail_not_ready"
    cad_file_thumbnail_render(cad_file_id=CadFile.objects.get(sha256=sha256).pk)
    assert api.thumbnail(sha256).startswith(b"\x89PNG\r\n\x1a\n")
