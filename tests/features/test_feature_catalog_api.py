"""GET /api/v1/features/versions/ and /api/v1/features/slots/."""

from __future__ import annotations

import pytest

from features.extractors import slot_names


@pytest.mark.django_db
def test_versions(key_client, settings):
    settings.CADML_FEATURE_VERSION = "v3"
    body = key_client.get("/api/v1/features/versions/").json()
    assert [(v["version"], v["dimension"], v["added_slots"]) for v in body] == [
        ("v1", 7, 7), ("v2", 12, 5), ("v3", 22, 10), ("v4", 24, 2), ("v5", 36, 36)]
    assert [v["default"] for v in body] == [False, False, True, False, False]


@pytest.mark.django_db
def test_slots_of_a_version(key_client):
    body = key_client.get("/api/v1/features/slots/?version=v4").json()
    assert [s["name"] for s in body] == slot_names("v4")
    assert [s["index"] for s in body] == list(range(24))
    assert body[0] == {"name": "entity_count", "category": "geometric", "version": "v1", "index": 0}
    assert body[-1] == {"name": "shape_entropy", "category": "semantic", "version": "v4", "index": 23}
    assert len(key_client.get("/api/v1/features/slots/?version=v2").json()) == 12


@pytest.mark.django_db
def test_unknown_version_is_400(key_client):
    response = key_client.get("/api/v1/features/slots/?version=v6")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")


def test_catalog_needs_an_api_key(anon_client, db):
    assert anon_client.get("/api/v1/features/versions/").status_code == 401


@pytest.mark.django_db
def test_slots_of_v5_are_its_own_layout(key_client):
    body = key_client.get("/api/v1/features/slots/?version=v5").json()
    assert [s["name"] for s in body] == slot_names("v5")
    assert len(body) == 36 <= 64
    assert [s["index"] for s in body] == list(range(36))
    assert {s["version"] for s in body} == {"v5"}
    categories = [s["category"] for s in body]
    assert categories == ["shape"] * 31 + ["size"] * 4 + ["auxiliary"]
    assert body[0]["name"] == "shape_ev_ratio_2"
    assert [s["name"] for s in body[31:]] == ["size_log10_rms_radius_mm", "size_log10_extent_1_mm",
                                              "size_log10_extent_2_mm", "size_log10_extent_3_mm",
                                              "norm_completion"]
