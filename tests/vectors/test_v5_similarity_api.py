"""v5 similarity through the API: match kinds, scale factor, the `match` filter (single, batch, analyze)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from features.descriptors import describe_triangles
from features.extractors import extract_features, v5_vector
from tests.features.cad_builders import make_binary_stl, make_box_triangles
from tests.vectors.conftest import register

pytestmark = pytest.mark.django_db

URL = "/api/v1/vectors/similarity/"


def v5_of(triangles) -> list[float]:
    return [float(v) for v in np.asarray(v5_vector(describe_triangles(triangles)), np.float32)]


@pytest.fixture
def catalogue():
    """Four registered parts: a box, the same box in inches, the box x3, a plate."""
    box = make_box_triangles((10.0, 20.0, 30.0))
    parts = {"box": box, "box-inches": box / 25.4, "box-x3": box * 3.0,
             "plate": make_box_triangles((100.0, 100.0, 2.0))}
    vectors = np.array([v5_of(t) for t in parts.values()], np.float32)
    shas = {name: hashlib.sha256(name.encode()).hexdigest() for name in parts}
    keys = register("v5", vectors, prefix="p", metas=[{"cad_file": shas[n], "name": n} for n in parts])
    return {"keys": dict(zip(parts, keys)), "shas": shas, "box": box}


def by_name(results):
    return {r["meta"]["name"]: r for r in results}


def test_results_say_their_match_kind(key_client, catalogue):
    query = v5_of(catalogue["box"] @ np.array([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]]).T)  # the box, rotated
    body = key_client.post(URL, {"feature_version": "v5", "vector": query, "k": 4}, format="json").json()
    found = by_name(body["results"])
    assert found["box"]["match"] == "duplicate" and found["box"]["scale_factor"] == pytest.approx(1.0, rel=1e-4)
    assert found["box-inches"]["match"] == "same_shape_other_scale"
    assert found["box-inches"]["unit_mismatch_suspected"] is True
    assert found["box-inches"]["scale_factor"] == pytest.approx(1 / 25.4, rel=1e-3)
    assert found["box-x3"]["match"] == "same_shape_other_scale"
    assert found["box-x3"]["unit_mismatch_suspected"] is False
    assert found["plate"]["match"] == "similar"
    assert body["results"][0]["meta"]["name"] == "box" and body["results"][-1]["meta"]["name"] == "plate"
    scores = [r["score"] for r in body["results"]]
    assert all(0 <= s <= 1 for s in scores) and len(set(scores)) == 4


def test_match_filters_and_exact(key_client, catalogue):
    query = v5_of(catalogue["box"])
    common = {"feature_version": "v5", "vector": query, "k": 4}
    duplicate = key_client.post(URL, {**common, "match": "duplicate"}, format="json").json()["results"]
    assert [r["meta"]["name"] for r in duplicate] == ["box"]
    shape = key_client.post(URL, {**common, "match": "shape"}, format="json").json()["results"]
    assert {r["meta"]["name"] for r in shape} == {"box", "box-inches", "box-x3"}
    exact = key_client.post(URL, {**common, "cad_file": catalogue["shas"]["box"]}, format="json").json()["results"]
    assert exact[0]["match"] == "exact" and exact[0]["score"] == 1.0
    # a key query: its own key is left out, and the key's content makes other keys of that content exact
    by_key = key_client.post(URL, {"feature_version": "v5", "key": catalogue["keys"]["box-inches"],
                                   "match": "shape"}, format="json").json()["results"]
    assert [r["meta"]["name"] for r in by_key][:1] in (["box"], ["box-x3"])
    assert all(r["match"] == "same_shape_other_scale" for r in by_key)


def test_batch_takes_match(key_client, catalogue):
    body = key_client.post(URL + "batch/", {"feature_version": "v5", "match": "duplicate", "k": 3, "queries": [
        {"vector": v5_of(catalogue["box"])}, {"vector": v5_of(catalogue["box"] * 3.0)}]}, format="json")
    assert body.status_code == 200, body.json()
    lists = body.json()["results"]
    assert [[r["meta"]["name"] for r in results] for results in lists] == [["box"], ["box-x3"]]


def test_match_needs_v5_and_a_known_mode(key_client, catalogue):
    register("v4", np.ones((2, 24), np.float32), prefix="q")
    response = key_client.post(URL, {"feature_version": "v4", "vector": [1.0] * 24, "match": "duplicate"},
                               format="json")
    assert response.status_code == 422 and response.json()["code"] == "match_needs_v5"
    response = key_client.post(URL, {"feature_version": "v5", "vector": v5_of(catalogue["box"]), "match": "near"},
                               format="json")
    assert response.status_code == 400
    plain = key_client.post(URL, {"feature_version": "v4", "vector": [1.0] * 24}, format="json").json()
    assert set(plain["results"][0]) == {"key", "score", "meta"}  # v1-v4 results are unchanged


def test_analyze_neighbours_without_storing_the_file(key_client):
    box = make_box_triangles((10.0, 20.0, 30.0))
    stored = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("box.stl", make_binary_stl(box)),
                                                  "feature_version": "v5", "classify": "false"}, format="multipart")
    assert stored.status_code == 201, stored.json()
    inches = make_binary_stl(box / 25.4)
    response = key_client.post("/api/v1/analyze/", {
        "file": SimpleUploadedFile("box-in.stl", inches), "feature_version": "v5", "register_vector": "false",
        "similar_k": 3, "match": "shape", "classify": "false"}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["vector"]["registered"] is False and body["features"]["dimension"] == 36
    first = body["similar"]["results"][0]
    assert first["key"] == stored.json()["file"]["sha256"]
    assert first["match"] == "same_shape_other_scale" and first["unit_mismatch_suspected"] is True
    assert first["scale_factor"] == pytest.approx(25.4, rel=1e-3)
    again = key_client.post("/api/v1/analyze/", {
        "file": SimpleUploadedFile("box-again.stl", make_binary_stl(box)), "feature_version": "v5",
        "register_vector": "false", "similar_k": 3, "match": "duplicate", "classify": "false"}, format="multipart")
    assert [r["match"] for r in again.json()["similar"]["results"]] == ["exact"]
    refused = key_client.post("/api/v1/analyze/", {
        "file": SimpleUploadedFile("box.stl", make_binary_stl(box)), "feature_version": "v4", "similar_k": 3,
        "match": "shape"}, format="multipart")
    assert refused.status_code == 422 and refused.json()["code"] == "match_needs_v5"


def test_schema_describes_match(anon_client):
    schema = yaml.safe_load(anon_client.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    assert components["MatchModeEnum"]["enum"] == ["any", "duplicate", "shape"]
    assert components["MatchKindEnum"]["enum"] == ["exact", "duplicate", "same_shape_other_scale", "similar",
                                                   "mirror_image"]
    assert "FeatureVersionEnum" in components and "v5" in components["FeatureVersionEnum"]["enum"]
    request = components["SimilaritySearchInputRequest"]["properties"]
    assert "MatchModeEnum" in str(request["match"]) and "cad_file" in request
    assert "MatchModeEnum" in str(components["SimilarityBatchInputRequest"]["properties"]["match"])
    assert "MatchModeEnum" in str(components["AnalysisCreateInputRequest"]["properties"]["match"])
    result = components["SimilarityResult"]["properties"]
    assert "MatchKindEnum" in str(result["match"])
    assert {"scale_factor", "unit_mismatch_suspected", "shape_distance"} <= set(result)
    slots = schema["paths"]["/api/v1/features/slots/"]["get"]["parameters"]
    assert any(p["name"] == "version" and "v5" in str(p) for p in slots)


def test_v5_of_a_file_stored_before_v5_is_parsed_again(key_client):
    """A CadFile row whose summary predates v5 (no shape descriptor, no stored original): analyze of the same bytes
    keeps the original and parses it again for v5 (never a padded vector); v4 is served from the old summary."""
    from features.models import CadFile
    from features.parsers.stl import parse_stl

    data = make_binary_stl(make_box_triangles((4.0, 5.0, 6.0)))
    summary = parse_stl(data, describe=False).to_dict()
    assert "shape" not in summary
    row = CadFile.objects.create(sha256=hashlib.sha256(data).hexdigest(), size=len(data), original_name="old.stl",
                                 format="stl", parser="stl-numpy", parse_seconds=0.0, summary=summary)
    v4 = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("old.stl", data), "feature_version": "v4",
                                              "classify": "false"}, format="multipart")
    assert v4.status_code == 201
    row.refresh_from_db()
    assert "shape" not in row.summary and row.has_original  # v4 needs no re-parse; the original is kept now
    response = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("old.stl", data),
                                                    "feature_version": "v5", "classify": "false"},
                               format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reused_file"] is True and body["features"]["version"] == "v5"
    assert body["features"]["values"] == extract_features(parse_stl(data), "v5")
    row.refresh_from_db()
    assert "shape" in row.summary
