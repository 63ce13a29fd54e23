"""Pins the SQL statements of an analyze call and of an authenticated request (regression tests, not timings)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.features.cad_builders import make_binary_stl, make_box_triangles

# POST analyze/ of a tiny binary STL with register_vector=false and classify=false, the credential already cached,
# as it stands on the i14-speed branch before the single-transaction rewrite of the analyze service (issue 14
# leaves that to a later round, after the stored-originals work lands): re-pin this number when analyze changes.
# Measured after the stored-originals merge: SELECT the served version, SELECT the file row, SAVEPOINT, INSERT the
# file row, RELEASE, INSERT the analysis (the savepoint pair is the service's atomic block nested in the test
# transaction; in production it is a BEGIN/COMMIT). Issue 14's goal is 3 round trips: not reached yet.
ANALYZE_TINY_STL_STATEMENTS = 6
# An authenticated GET whoami/ once the credential row is cached and the throttle synced: no SQL at all.
AUTHENTICATED_REQUEST_STATEMENTS = 0


@pytest.fixture
def long_caches(monkeypatch):
    """The credential cache and throttle sync interval stretched, so that a loaded machine stays inside them."""
    from cadml_site.api import authentication, throttling

    monkeypatch.setattr(authentication.credential_cache, "ttl_seconds", 30.0)
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 30.0)


@pytest.mark.django_db
def test_an_authenticated_request_costs_no_statement(key_client, long_caches, django_assert_num_queries):
    assert key_client.get("/api/v1/auth/whoami/").status_code == 200
    with django_assert_num_queries(AUTHENTICATED_REQUEST_STATEMENTS):
        assert key_client.get("/api/v1/auth/whoami/").status_code == 200


@pytest.mark.django_db
def test_analyze_of_a_tiny_stl_without_registration(key_client, long_caches, django_assert_max_num_queries):
    warm = make_binary_stl(make_box_triangles((1, 1, 1)))
    assert key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("warm.stl", warm),
                                                "register_vector": "false", "classify": "false"},
                           format="multipart").status_code == 201
    data = make_binary_stl(make_box_triangles((2, 3, 4)))  # 12 triangles, new content: parsed, not a cache hit
    with django_assert_max_num_queries(ANALYZE_TINY_STL_STATEMENTS):
        response = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("box.stl", data),
                                                        "register_vector": "false", "classify": "false"},
                                   format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["vector"]["registered"] is False
