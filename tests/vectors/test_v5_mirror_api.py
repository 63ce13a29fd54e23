"""`mirror` on v5 similarity (single, batch, analyze): a real asymmetric shared sample and its mirrored STL.

`trimesh__octagonal_pocket.stl` has no mirror plane (handedness -1, tests/features/test_v5_handedness.py); its
mirror image (x negated, vertex order reversed so the normals still point outwards) is the same shape for the 36
v5 slots, so by default (`mirror=same`) it is a `duplicate`; with `mirror=distinct` it is a `mirror_image`.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.features.cad_builders import make_binary_stl
from tests.features.test_shape_descriptor_v5 import rotation, triangles_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/vectors/similarity/"
SAMPLE = "stl/trimesh__octagonal_pocket.stl"


def analyze(client, name: str, data: bytes, **fields):
    response = client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(name, data), "feature_version": "v5",
                                                "classify": "false", **fields}, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def pair(key_client, cad_samples_dir):
    """The sample and a rotated copy registered; the mirror image and a mirrored copy in inches as bytes."""
    triangles = triangles_of(cad_samples_dir / SAMPLE).astype(np.float32)
    mirrored = triangles[:, ::-1, :] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    files = {
        "original": (cad_samples_dir / SAMPLE).read_bytes(),
        "rotated": make_binary_stl((triangles.astype(np.float64) @ rotation(5).T + 7.0).astype(np.float32)),
        "mirrored": make_binary_stl(mirrored),
        "mirrored-inches": make_binary_stl(mirrored / np.float32(25.4)),
    }
    keys = {name: analyze(key_client, f"{name}.stl", files[name])["vector"]["key"] for name in ("original", "rotated")}
    return {"files": files, "keys": keys}


def kinds(results, keys) -> dict[str, str]:
    names = {key: name for name, key in keys.items()}
    return {names[r["key"]]: r["match"] for r in results if r["key"] in names}


def test_analyze_tells_a_mirror_image_only_when_asked(key_client, pair):
    files, keys = pair["files"], pair["keys"]
    common = {"register_vector": "false", "similar_k": 5}
    default = analyze(key_client, "mirrored.stl", files["mirrored"], **common)["similar"]["results"]
    assert kinds(default, keys) == {"original": "duplicate", "rotated": "duplicate"}
    distinct = analyze(key_client, "mirrored.stl", files["mirrored"], mirror="distinct", **common)["similar"]
    assert kinds(distinct["results"], keys) == {"original": "mirror_image", "rotated": "mirror_image"}
    # the ranking and the scores are those of the default
    assert [(r["key"], r["score"]) for r in distinct["results"]] == [(r["key"], r["score"]) for r in default]
    # a mirror image is not the same part: match=shape / duplicate leave it out
    for match in ("shape", "duplicate"):
        kept = analyze(key_client, "mirrored.stl", files["mirrored"], mirror="distinct", match=match, **common)
        assert kinds(kept["similar"]["results"], keys) == {}
    # the same part, rotated: still a duplicate when mirrors are told apart
    again = analyze(key_client, "original.stl", files["original"], mirror="distinct", **common)["similar"]
    assert kinds(again["results"], keys) == {"original": "exact", "rotated": "duplicate"}
    # a mirror image at another scale: mirror_image, with its scale factor
    inches = analyze(key_client, "mirrored-inches.stl", files["mirrored-inches"], mirror="distinct", **common)
    first = {r["key"]: r for r in inches["similar"]["results"]}[keys["original"]]
    assert first["match"] == "mirror_image" and first["scale_factor"] == pytest.approx(25.4, rel=1e-3)


def test_similarity_and_batch_take_mirror(key_client, pair):
    files, keys = pair["files"], pair["keys"]
    mirrored = analyze(key_client, "mirrored.stl", files["mirrored"])  # registered this time
    mirror_key = mirrored["vector"]["key"]
    common = {"feature_version": "v5", "key": mirror_key, "k": 5}
    default = key_client.post(URL, common, format="json")
    assert default.status_code == 200, default.json()
    assert kinds(default.json()["results"], keys) == {"original": "duplicate", "rotated": "duplicate"}
    distinct = key_client.post(URL, {**common, "mirror": "distinct"}, format="json").json()["results"]
    assert kinds(distinct, keys) == {"original": "mirror_image", "rotated": "mirror_image"}
    # a vector query names its file with cad_file (as for exact)
    vector = mirrored["features"]["values"]
    sha = mirrored["file"]["sha256"]
    by_vector = key_client.post(URL, {"feature_version": "v5", "vector": vector, "cad_file": sha, "k": 5,
                                      "mirror": "distinct"}, format="json").json()["results"]
    assert kinds(by_vector, {**keys, "mirrored": mirror_key}) == {
        "original": "mirror_image", "rotated": "mirror_image", "mirrored": "exact"}
    # without its file the query's handedness is unknown: it cannot tell, as by default
    unnamed = key_client.post(URL, {"feature_version": "v5", "vector": vector, "k": 5, "mirror": "distinct"},
                              format="json").json()["results"]
    assert kinds(unnamed, keys) == {"original": "duplicate", "rotated": "duplicate"}
    batch = key_client.post(URL + "batch/", {"feature_version": "v5", "k": 5, "mirror": "distinct", "queries": [
        {"key": mirror_key}, {"vector": vector, "cad_file": sha}, {"key": keys["original"]}]}, format="json")
    assert batch.status_code == 200, batch.json()
    lists = batch.json()["results"]
    assert kinds(lists[0], keys) == {"original": "mirror_image", "rotated": "mirror_image"}
    assert kinds(lists[1], keys) == {"original": "mirror_image", "rotated": "mirror_image"}
    assert kinds(lists[2], {**keys, "mirrored": mirror_key}) == {"rotated": "duplicate", "mirrored": "mirror_image"}
    default_batch = key_client.post(URL + "batch/", {"feature_version": "v5", "k": 5, "queries": [
        {"key": mirror_key}]}, format="json").json()["results"]
    assert kinds(default_batch[0], keys) == {"original": "duplicate", "rotated": "duplicate"}


def test_a_file_described_before_handedness_cannot_tell(key_client, pair):
    from features.models import CadFile

    files, keys = pair["files"], pair["keys"]
    original = CadFile.objects.get(sha256=keys["original"])
    summary = dict(original.summary)
    summary["shape"] = {k: v for k, v in summary["shape"].items() if k != "handedness"}
    CadFile.objects.filter(pk=original.pk).update(summary=summary)
    distinct = analyze(key_client, "mirrored.stl", files["mirrored"], register_vector="false", similar_k=5,
                       mirror="distinct")["similar"]["results"]
    assert kinds(distinct, keys) == {"original": "duplicate", "rotated": "mirror_image"}


def test_mirror_needs_v5_and_a_known_mode(key_client, pair):
    from tests.vectors.conftest import register

    register("v4", np.ones((2, 24), np.float32), prefix="q")
    for url, wrap in ((URL, lambda v: {"vector": v}), (URL + "batch/", lambda v: {"queries": [{"vector": v}]})):
        v4 = {"feature_version": "v4", **wrap([1.0] * 24)}
        refused = key_client.post(url, {**v4, "mirror": "distinct"}, format="json")
        assert refused.status_code == 422 and refused.json()["code"] == "match_needs_v5", refused.json()
        assert key_client.post(url, {**v4, "mirror": "same"}, format="json").status_code == 200
        v5 = {"feature_version": "v5", **wrap([0.0] * 36)}
        assert key_client.post(url, v5, format="json").status_code == 200
        unknown = key_client.post(url, {**v5, "mirror": "left"}, format="json")
        assert unknown.status_code == 400 and "mirror" in str(unknown.json()), unknown.json()
    refused = key_client.post("/api/v1/analyze/", {
        "file": SimpleUploadedFile("x.stl", pair["files"]["mirrored"]), "feature_version": "v4", "similar_k": 3,
        "mirror": "distinct"}, format="multipart")
    assert refused.status_code == 422 and refused.json()["code"] == "match_needs_v5"
    bad_sha = key_client.post(URL + "batch/", {"feature_version": "v5", "queries": [
        {"vector": [0.0] * 36, "cad_file": "not-a-sha"}]}, format="json")
    assert bad_sha.status_code == 400, bad_sha.json()


def test_schema_describes_mirror(anon_client):
    schema = yaml.safe_load(anon_client.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    assert components["MirrorModeEnum"]["enum"] == ["same", "distinct"]
    assert "mirror_image" in components["MatchKindEnum"]["enum"]
    for name in ("SimilaritySearchInputRequest", "SimilarityBatchInputRequest", "AnalysisCreateInputRequest"):
        assert "MirrorModeEnum" in str(components[name]["properties"]["mirror"]), name
    assert "mirror_image" in str(components["SimilaritySearchInputRequest"]["properties"]["mirror"])
    assert "cad_file" in str(components["SimilarityBatchInputRequest"]["properties"]["queries"])
    # the rule "mirror other than same (and match other than any) needs v5" is in the request schemas
    for name in ("SimilaritySearchInputRequest", "SimilarityBatchInputRequest", "AnalysisCreateInputRequest"):
        alternatives = components[name]["anyOf"]
        assert {"properties": {"feature_version": {"const": "v5"}}} in alternatives, name
        assert {"properties": {"match": {"const": "any"}, "mirror": {"const": "same"}}} in alternatives, name
