import pytest

from tests.vectors.conftest import make_vectors, register
from vectors.models import IndexEvent, MigrationRun, Vector, VectorOpsAudit

pytestmark = pytest.mark.django_db

URL = "/api/v1/vectors/"


def test_endpoints_need_a_key(anon_client, wrong_key_client):
    for client in (anon_client, wrong_key_client):
        assert client.get(URL).status_code == 401
        assert client.post(URL + "similarity/", {}, format="json").status_code == 401


def test_register_one_and_read_it_back(key_client):
    resp = key_client.post(URL, {"feature_version": "v4", "key": "part-1", "values": [1.0] * 24,
                                 "meta": {"material": "steel"}}, format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert (body["created"], body["updated"], body["generation"], body["key"]) == (1, 0, 1, "part-1")
    got = key_client.get(URL + "part-1/?feature_version=v4").json()
    assert got["values"] == [1.0] * 24 and got["meta"] == {"material": "steel"} and got["dimension"] == 24


def test_bulk_register_and_list_with_meta_filters_and_pagination(key_client):
    items = [{"key": f"p{i:03d}", "values": v.tolist(), "meta": {"part_type": "gear" if i % 2 else "shaft",
                                                                   "holes": i % 3}}
             for i, v in enumerate(make_vectors(30, 24))]
    resp = key_client.post(URL, {"feature_version": "v4", "vectors": items}, format="json")
    assert resp.status_code == 201 and resp.json()["created"] == 30
    page = key_client.get(URL + "?feature_version=v4&limit=5&offset=5&meta.part_type=gear").json()
    assert page["count"] == 15 and [r["key"] for r in page["results"]] == ["p011", "p013", "p015", "p017", "p019"]
    numeric = key_client.get(URL + "?feature_version=v4&meta.holes=2&meta.part_type=shaft").json()
    assert {r["meta"]["holes"] for r in numeric["results"]} == {2} and numeric["count"] == 5


def test_dimension_mismatch_and_non_finite_are_422_problems(key_client):
    resp = key_client.post(URL, {"feature_version": "v4", "key": "p", "values": [1.0] * 5}, format="json")
    assert resp.status_code == 422 and resp["Content-Type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == "dimension_mismatch" and body["context"]["expected"] == 24
    assert body["context"]["found"] == 5
    raw = '{"feature_version": "v4", "key": "p", "values": [NaN' + ", 1.0" * 23 + "]}"
    resp = key_client.generic("POST", URL, raw, content_type="application/json")
    assert resp.status_code in (400, 422)  # NaN is not JSON: rejected by the parser or the validator
    big = [1e39] * 24  # overflows float32 to inf
    resp = key_client.post(URL, {"feature_version": "v4", "key": "p", "values": big}, format="json")
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_vector"
    assert not Vector.objects.exists()


def test_bulk_limit_and_shape_errors_are_4xx(key_client, settings):
    resp = key_client.post(URL, {"feature_version": "v4", "vectors": "nope"}, format="json")
    assert resp.status_code == 400
    resp = key_client.post(URL, {"feature_version": "v4", "key": "p"}, format="json")
    assert resp.status_code == 400
    resp = key_client.post(URL, {"feature_version": "v4", "vectors": [{"key": "a", "values": [[1.0]]}]},
                           format="json")
    assert resp.status_code == 422


def test_delete_is_sensitive(key_client, ops_client):
    register("v4", make_vectors(3, 24))
    assert key_client.delete(URL + "k00001/?feature_version=v4").status_code == 403
    resp = ops_client.delete(URL + "k00001/?feature_version=v4&reason=duplicate")
    assert resp.status_code == 200 and resp.json()["generation"] == 2
    assert ops_client.get(URL + "k00001/?feature_version=v4").status_code == 404
    audit = VectorOpsAudit.objects.get(action="vector_delete")
    assert (audit.actor, audit.reason) == ("ops-alice", "duplicate")


def test_similarity_search_and_batch(key_client):
    vectors = make_vectors(100, 24, seed=4)
    register("v4", vectors, metas=[{"part_type": "gear" if i % 2 else "shaft"} for i in range(100)])
    resp = key_client.post(URL + "similarity/", {"feature_version": "v4", "vector": vectors[3].tolist(), "k": 3},
                           format="json")
    body = resp.json()
    assert resp.status_code == 200 and body["backend"] == "faiss" and body["degraded"] is False
    assert body["results"][0]["key"] == "k00003" and body["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert body["generation"] == 1
    filtered = key_client.post(URL + "similarity/", {"feature_version": "v4", "key": "k00003", "k": 10,
                                                     "filters": {"part_type": "shaft"}}, format="json").json()
    assert len(filtered["results"]) == 10 and all(r["meta"]["part_type"] == "shaft" for r in filtered["results"])
    batch = key_client.post(URL + "similarity/batch/", {"feature_version": "v4", "k": 2, "queries": [
        {"vector": vectors[i].tolist()} for i in range(5)]}, format="json").json()
    assert [r[0]["key"] for r in batch["results"]] == [f"k{i:05d}" for i in range(5)]


def test_similarity_input_errors(key_client, settings):
    register("v4", make_vectors(3, 24))
    cases = [
        ({"feature_version": "v4"}, 400),
        ({"feature_version": "v4", "vector": [1.0] * 24, "key": "k00000"}, 400),
        ({"feature_version": "v4", "vector": [1.0] * 24, "k": settings.CADML_SIMILARITY_MAX_K + 1}, 400),
        ({"feature_version": "v4", "vector": [1.0] * 3}, 422),
        ({"feature_version": "v9", "vector": [1.0] * 24}, 400),
        ({"feature_version": "v4", "key": "missing"}, 404),
        ({"feature_version": "v4", "vector": [1.0] * 24, "min_generation": 99}, 409),
        ({"feature_version": "v4", "vector": [1.0] * 24, "filters": {"x__gt": 1}}, 400),
    ]
    for payload, status in cases:
        resp = key_client.post(URL + "similarity/", payload, format="json")
        assert resp.status_code == status, (payload, resp.json())
    too_many = [{"vector": [1.0] * 24}] * (settings.CADML_SIMILARITY_BATCH_MAX + 1)
    resp = key_client.post(URL + "similarity/batch/", {"feature_version": "v4", "queries": too_many},
                           format="json")
    assert resp.status_code == 400


def test_index_operations_need_ops_and_are_audited(key_client, ops_client):
    register("v4", make_vectors(20, 24))
    for path in ("index/recover/", "index/rebuild/", "index/degrade/", "migrate/"):
        assert key_client.post(URL + path, {"feature_version": "v4", "reason": "x"},
                               format="json").status_code == 403
    resp = ops_client.post(URL + "index/degrade/", {"feature_version": "v4", "reason": "alert drill",
                                                    "duration_seconds": 120}, format="json")
    assert resp.status_code == 200 and resp.json()["degraded"] is True
    search = key_client.post(URL + "similarity/", {"feature_version": "v4", "vector": [1.0] * 24},
                             format="json").json()
    assert (search["backend"], search["degraded"]) == ("memory", True)
    status = key_client.get(URL + "index/?feature_version=v4").json()["versions"][0]
    assert status["mode"] == "memory" and status["reason"] == "drill" and status["size"] == 20
    assert status["events"][0]["event"] == "drill" and status["last_error"] == "drill: alert drill"
    resp = ops_client.post(URL + "index/recover/", {"feature_version": "v4", "reason": "drill over"},
                           format="json")
    assert resp.status_code == 200 and resp.json()["result"] == "success"
    assert list(IndexEvent.objects.values_list("event", flat=True)) == ["restored", "manual_override", "drill"]
    resp = ops_client.post(URL + "index/rebuild/", {"feature_version": "v4", "reason": "new snapshot"},
                           format="json")
    assert resp.status_code == 200 and resp.json()["snapshot_generation"] == 1
    assert set(VectorOpsAudit.objects.values_list("action", flat=True)) == {"index_degrade_drill",
                                                                            "index_recover"}
    assert ops_client.post(URL + "index/degrade/", {"feature_version": "v4"}, format="json").status_code == 400


def test_migration_endpoints(key_client, ops_client, django_capture_on_commit_callbacks):
    register("v3", make_vectors(15, 22))
    preview = key_client.get(URL + "migrate/preview/?from_version=v3&to_version=v4&limit=10").json()
    assert preview["counts"]["padded"] == 10 and preview["dimension_delta"] == 2 and preview["limit"] == 10
    assert key_client.get(URL + "migrate/preview/?from_version=v3&to_version=v3").status_code == 422
    assert key_client.get(URL + "migrate/preview/?from_version=v3").status_code == 400
    assert key_client.get(URL + "migrate/preview/?from=v3&to=v4").status_code == 400  # one name: the schema's
    with django_capture_on_commit_callbacks(execute=True):
        resp = ops_client.post(URL + "migrate/", {"from_version": "v3", "to_version": "v4", "dry_run": False},
                               format="json")
    assert resp.status_code == 202
    run = key_client.get(URL + f"migrate/runs/{resp.json()['id']}/").json()
    assert run["status"] == "completed" and run["processed"] == 15
    assert MigrationRun.objects.get().stats["counts"]["padded"] == 15
    assert key_client.get(URL + "migrate/runs/999/").status_code == 404


def test_health_section_reports_versions(anon_client):
    register("v4", make_vectors(5, 24))
    body = anon_client.get("/api/v1/health/").json()
    section = body["sections"]["vectors"]
    assert section["status"] == "ok" and section["versions"]["v4"]["size"] == 5


def test_hostile_shapes_are_4xx_not_500(key_client):
    register("v4", make_vectors(3, 24))
    deep = {}
    node = deep
    for _ in range(3000):
        node["x"] = {}
        node = node["x"]
    payloads = [
        (URL + "similarity/batch/", {"feature_version": "v4", "queries": [{"key": ["k00000"]}]}),
        (URL + "similarity/batch/", {"feature_version": "v4", "queries": [{"vector": "abc"}]}),
        (URL + "similarity/batch/", {"feature_version": "v4", "queries": [{"vector": [[1.0] * 24]}]}),
        (URL + "similarity/", {"feature_version": "v4", "vector": [True] * 24, "filters": {"": 1}}),
        (URL, {"feature_version": "v4", "vectors": [{"key": "a", "values": [[1.0]] * 24}]}),
        (URL, {"feature_version": "v4", "vectors": [{"key": "a", "values": [1.0] * 24, "meta": "str"}]}),
    ]
    for url, payload in payloads:
        resp = key_client.post(url, payload, format="json")
        assert 400 <= resp.status_code < 500, (payload, resp.status_code)
    from vectors.errors import InvalidMeta
    from vectors.validation import meta_json
    with pytest.raises(InvalidMeta):
        meta_json(deep)
