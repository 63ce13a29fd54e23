"""POST /api/v1/analyze/ and GET /api/v1/analyze/{id}/ end to end (real parse pool, real cross-app calls)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.models import Analysis
from features.extractors import dimension, slot_names
from features.models import CadFile
from tests.features.cad_builders import (
    PNG_BYTES,
    make_binary_stl,
    make_box_triangles,
    make_dxf_self_insert,
    make_step_nested_parentheses,
)
from tests.metrics import metric_value

URL = "/api/v1/analyze/"


def upload(client, name: str, data: bytes, **fields):
    return client.post(URL, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


@pytest.mark.django_db
def test_analyze_a_step_sample(key_client, cad_samples_dir):
    data = (cad_samples_dir / "step/pythonocc__test_ocaf.stp").read_bytes()
    response = upload(key_client, "cube.stp", data, feature_version="v3", classify="false")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["file"]["format"] == "step" and body["file"]["size"] == len(data)
    assert body["document"]["solids"] == 1 and body["document"]["volume"] == pytest.approx(1e6)
    assert body["features"]["version"] == "v3"
    assert body["features"]["dimension"] == dimension("v3") == len(body["features"]["values"])
    assert body["features"]["slot_names"] == slot_names("v3")
    assert all(math.isfinite(v) for v in body["features"]["values"])
    assert body["reused_file"] is False and body["duplicate_of"] is None
    assert body["cache"] == {"hit": False}
    assert body["vector"]["registered"] is True and body["vector"]["key"] == body["file"]["sha256"]
    assert body["similar"]["status"] == "not_requested"
    assert body["timings"]["parse_seconds"] > 0
    detail = key_client.get(f"{URL}{body['id']}/")
    assert detail.status_code == 200
    assert detail.json()["features"] == body["features"]


@pytest.mark.django_db
def test_same_content_twice_is_parsed_once_and_hits_the_cache(key_client):
    data = make_binary_stl(make_box_triangles((2, 3, 4)))
    parsed_before = metric_value("cad_parse_latency_seconds_count", format="stl")
    first = upload(key_client, "box.stl", data, classify="false").json()
    second = upload(key_client, "box-copy.stl", data, classify="false")
    assert second.status_code == 201
    second = second.json()
    assert CadFile.objects.count() == 1 and Analysis.objects.count() == 2
    assert metric_value("cad_parse_latency_seconds_count", format="stl") == parsed_before + 1
    assert second["reused_file"] is True
    assert second["duplicate_of"]["cad_file_id"] == first["file"]["id"]
    assert second["duplicate_of"]["original_name"] == "box.stl"
    assert second["cache"] == {"hit": True}
    assert second["features"]["values"] == first["features"]["values"]
    assert second["timings"]["parse_seconds"] == 0


@pytest.mark.django_db
def test_similar_parts_come_from_the_vectors_app(key_client):
    for size in ((1, 1, 1), (1, 1, 1.1), (10, 1, 1)):
        upload(key_client, f"box{size}.stl", make_binary_stl(make_box_triangles(size)), classify="false")
    response = upload(key_client, "query.stl", make_binary_stl(make_box_triangles((1, 1, 1.05))),
                      classify="false", similar_k=2)
    assert response.status_code == 201, response.json()
    similar = response.json()["similar"]
    assert similar["status"] == "ok"
    assert len(similar["results"]) == 2
    assert response.json()["vector"]["key"] not in [r["key"] for r in similar["results"]]
    assert all(r["meta"]["format"] == "stl" for r in similar["results"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("drawing.dwg", b"AC1015" + b"\0" * 512, 415, "unsupported_format"),
        ("image.stl", PNG_BYTES, 415, "unsupported_format"),
        ("notes.dxf", b"just some text\n" * 20, 415, "unknown_format"),
        ("empty.step", b"", 422, "empty_document"),
        ("self.dxf", None, 422, "block_cycle"),
        ("cut.stl", make_binary_stl(make_box_triangles())[:-7], 422, "parse_failed"),
    ],
)
def test_bad_files_get_a_problem_answer(key_client, name, data, status, code):
    if data is None:
        data = make_dxf_self_insert()
    before = CadFile.objects.count()
    response = upload(key_client, name, data)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["stage"] == "parse"
    assert CadFile.objects.count() == before


@pytest.mark.django_db
def test_parse_failures_are_counted_by_format_and_reason(key_client):
    before = metric_value("cad_parse_failures_total", format="dxf", reason="block_cycle")
    upload(key_client, "self.dxf", make_dxf_self_insert())
    assert metric_value("cad_parse_failures_total", format="dxf", reason="block_cycle") == before + 1


@pytest.mark.django_db
def test_too_large_upload_is_413_before_parsing(key_client, settings):
    settings.CADML_UPLOAD_MAX_BYTES = 1024
    response = upload(key_client, "big.stl", make_binary_stl(make_box_triangles()) * 2)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"


@pytest.mark.django_db
def test_unknown_version_is_400(key_client):
    response = upload(key_client, "box.stl", make_binary_stl(make_box_triangles()), feature_version="v9")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "feature_version"


@pytest.mark.django_db
def test_a_crashing_file_answers_422_and_the_service_carries_on(key_client, cad_samples_dir):
    response = upload(key_client, "evil.step", make_step_nested_parentheses(200_000))
    assert response.status_code == 422
    assert response.json()["code"] == "parse_crashed"
    good = upload(key_client, "cube.stp", (cad_samples_dir / "step/pythonocc__test_ocaf.stp").read_bytes(),
                  classify="false")
    assert good.status_code == 201
    health = key_client.get("/api/v1/health/").json()["sections"]["parser_pool"]
    assert health["started"] is True and health["crashes"] >= 1 and health["status"] in ("ok", "degraded")


@pytest.mark.django_db(transaction=True)
def test_four_concurrent_uploads(key_client, cad_samples_dir):
    files = ["step/pythonocc__io1-ug-214.stp", "dxf/trimesh__wrench.dxf", "obj/trimesh__cube.OBJ",
             "stl/trimesh__20mm-xyz-cube.stl"]
    payloads = [(p.rsplit("/", 1)[1], (cad_samples_dir / p).read_bytes()) for p in files]

    def send(item):
        return upload(key_client, item[0], item[1], classify="false").status_code

    with ThreadPoolExecutor(max_workers=4) as executor:
        statuses = list(executor.map(send, payloads))
    assert statuses == [201, 201, 201, 201]
    assert CadFile.objects.count() == 4


def test_analyze_needs_an_api_key(anon_client, db):
    response = upload(anon_client, "box.stl", make_binary_stl(make_box_triangles()))
    assert response.status_code == 401


@pytest.mark.django_db
def test_missing_analysis_is_404(key_client):
    response = key_client.get(f"{URL}999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "analysis_not_found"


@pytest.mark.django_db
def test_without_an_active_model_the_classification_says_so(key_client):
    response = upload(key_client, "box.stl", make_binary_stl(make_box_triangles((5, 6, 7))))
    assert response.status_code == 201
    assert response.json()["classification"]["status"] == "no_active_model"
    assert response.json()["classification"]["label"] is None


@pytest.mark.django_db
def test_extraction_latency_is_observed_per_version_on_a_cache_miss(key_client):
    before = metric_value("feature_extraction_latency_seconds_count", version="v2")
    upload(key_client, "box.stl", make_binary_stl(make_box_triangles((7, 1, 2))), feature_version="v2",
           classify="false")
    assert metric_value("feature_extraction_latency_seconds_count", version="v2") == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize("size_kb", [300, 120], ids=["declared-length", "streamed-bytes"])
def test_oversized_upload_is_refused_while_streaming(key_client, settings, size_kb):
    """The size handler stops the upload as it arrives (from the declared length, or from the bytes received
    when the declared length is within the multipart allowance): Django never stores it, no parse starts."""
    settings.CADML_UPLOAD_MAX_BYTES = 100 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # would otherwise go to a temporary file
    before = metric_value("cad_parse_failures_total", format="unknown", reason="file_too_large")
    response = upload(key_client, "big.stl", b"solid x\n" + b" " * (size_kb * 1024))
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert metric_value("cad_parse_failures_total", format="unknown", reason="file_too_large") == before + 1
    assert CadFile.objects.count() == 0
