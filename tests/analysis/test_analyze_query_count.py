"""Pins the SQL statements of an analyze call and of an authenticated request (regression tests, not timings)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.features.cad_builders import make_binary_stl, make_box_triangles

# POST analyze/ of a tiny binary STL (new content: parsed) with classify=false, the credential and the served version
# already cached. Postgres, register_vector=false: SELECT the file row (a hit would spare the parse), then one
# statement writes the file row (INSERT ... ON CONFLICT (sha256) DO NOTHING RETURNING id) and the analysis that refers
# to it, as two parts of one WITH statement (`analysis.services.analysis_record`): two statements, two round trips, one
# transaction. The connection health check Django runs once per request (`conn_health_checks`) polls the socket
# instead of sending `SELECT 1` (cadml_site/postgres_backend, tested in tests/site/test_postgres_health_check.py): no
# third round trip. SQLite, in process (no round trips): the lookup, then the two inserts between a SAVEPOINT pair
# here (the test's own transaction; in production BEGIN and COMMIT).
ANALYZE_TINY_STL_STATEMENTS = {"postgresql": 2, "sqlite": 5}
# register_vector=true: Postgres, the vector's generation bump (UPDATE ... RETURNING) and upsert (INSERT ... ON CONFLICT
# DO UPDATE RETURNING whether it inserted) join the same statement: still two. SQLite: the bump and the upsert in a
# nested SAVEPOINT pair.
ANALYZE_TINY_STL_REGISTERED_STATEMENTS = {"postgresql": 2, "sqlite": 9}
# Known content whose features this process has cached: Postgres, the lookup and the writes are one statement
# (`analysis.services._known_content_analysis`), with register_vector=false the analysis's insert, with
# register_vector=true also the vector's bump and upsert (its metadata from the row's facts this process read when it
# stored the content, `features.file_facts`). SQLite: the lookup, then the insert; registering, the lookup, then the
# writes in their SAVEPOINT pairs (the file row is not inserted).
ANALYZE_KNOWN_TINY_STL_STATEMENTS = {"postgresql": 1, "sqlite": 2}
ANALYZE_KNOWN_TINY_STL_REGISTERED_STATEMENTS = {"postgresql": 1, "sqlite": 8}
# An authenticated GET whoami/ once the credential row is cached and the throttle synced: no SQL at all.
AUTHENTICATED_REQUEST_STATEMENTS = 0


@pytest.mark.django_db
def test_an_authenticated_request_costs_no_statement(key_client, request_caches_held, django_assert_num_queries):
    assert key_client.get("/api/v1/auth/whoami/").status_code == 200
    with django_assert_num_queries(AUTHENTICATED_REQUEST_STATEMENTS):
        assert key_client.get("/api/v1/auth/whoami/").status_code == 200


def analyze(client, name: str, data: bytes, register_vector: str):
    return client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(name, data), "register_vector": register_vector,
                                            "classify": "false"}, format="multipart")


@pytest.mark.django_db
def test_analyze_of_a_tiny_stl_without_registration(key_client, request_caches_held, feature_cache_empty,
                                                    django_assert_num_queries):
    assert analyze(key_client, "warm.stl", make_binary_stl(make_box_triangles((1, 1, 1))), "false").status_code == 201
    data = make_binary_stl(make_box_triangles((2, 3, 4)))  # 12 triangles, new content: parsed, not a cache hit
    from django.db import connection

    with django_assert_num_queries(ANALYZE_TINY_STL_STATEMENTS[connection.vendor]):
        response = analyze(key_client, "box.stl", data, "false")
    assert response.status_code == 201, response.json()
    assert response.json()["vector"]["registered"] is False
    with django_assert_num_queries(ANALYZE_KNOWN_TINY_STL_STATEMENTS[connection.vendor]):
        again = analyze(key_client, "box.stl", data, "false")  # known content, its features cached by the first
    assert again.status_code == 201 and again.json()["reused_file"] is True, again.json()
    assert again.json()["cache"] == {"hit": True}


@pytest.mark.django_db
def test_analyze_of_a_tiny_stl_with_registration(key_client, request_caches_held, feature_cache_empty,
                                                 django_assert_num_queries):
    from django.db import connection

    assert analyze(key_client, "warm.stl", make_binary_stl(make_box_triangles((1, 1, 1))), "true").status_code == 201
    data = make_binary_stl(make_box_triangles((2, 3, 4)))
    with django_assert_num_queries(ANALYZE_TINY_STL_REGISTERED_STATEMENTS[connection.vendor]):
        response = analyze(key_client, "box.stl", data, "true")
    assert response.status_code == 201, response.json()
    vector = response.json()["vector"]
    assert vector["registered"] is True and vector["created"] is True
    with django_assert_num_queries(ANALYZE_KNOWN_TINY_STL_REGISTERED_STATEMENTS[connection.vendor]):
        again = analyze(key_client, "box.stl", data, "true")  # known content: the file row is not inserted
    assert again.status_code == 201 and again.json()["vector"]["created"] is False
    assert again.json()["vector"]["generation"] == vector["generation"] + 1
