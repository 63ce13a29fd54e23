"""The cache endpoints: permissions, problem+json conflicts with the deadline, snapshots, restore."""

from __future__ import annotations

import time

import pytest

from cachectl.models import CacheAuditRecord, CacheSnapshot

URL = "/api/v1/cache/"


@pytest.mark.django_db
def test_status_needs_a_key_and_shows_settings_stats_window_and_changes(anon_client, key_client, settings):
    assert anon_client.get(URL).status_code == 401
    response = key_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["settings"]["capacity"] == settings.CADML_CACHE_CAPACITY
    assert body["settings"]["generation"] == 0
    for field in ("hits", "misses", "hit_ratio", "hour_hits", "hour_misses", "hour_hit_ratio", "size", "capacity",
                  "evictions", "expirations"):
        assert field in body["stats"]
    assert body["rollback_window"] is None
    assert body["recent_changes"] == []
    assert body["bounds"]["capacity"]["max"] == settings.CADML_CACHE_MAX_CAPACITY


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["apply/", "rollback/", "confirm/", "prewarm/", "snapshots/1/restore/"])
def test_sensitive_operations_need_ops_staff(key_client, anon_client, path):
    assert anon_client.post(URL + path, {"reason": "x"}, format="json").status_code == 401
    response = key_client.post(URL + path, {"reason": "x", "capacity": 10}, format="json")
    assert response.status_code == 403
    assert CacheAuditRecord.objects.count() == 0


@pytest.mark.django_db
def test_apply_conflict_rollback_and_nothing_to_rollback(ops_client, key_client,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # this process applies the change on commit
        response = ops_client.post(URL + "apply/", {"capacity": 4321, "reason": "load test"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["settings"]["capacity"] == 4321
    change_id = body["change"]["id"]
    assert body["rollback_window"]["change_id"] == change_id
    deadline = body["rollback_window"]["deadline"]

    status = key_client.get(URL).json()
    assert status["rollback_window"]["change_id"] == change_id
    assert 0 < status["rollback_window"]["seconds_left"] <= 300
    assert status["recent_changes"][0]["id"] == change_id
    assert status["stats"]["capacity"] == 4321

    response = ops_client.post(URL + "apply/", {"ttl_seconds": 60, "reason": "again"}, format="json")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "rollback_window_active"
    assert problem["context"]["change_id"] == change_id
    assert problem["context"]["deadline"].replace("+00:00", "Z")[:19] == deadline.replace("+00:00", "Z")[:19]

    response = ops_client.post(URL + "rollback/", {"reason": "undo"}, format="json")
    assert response.status_code == 200
    assert response.json()["rollback_window"] is None
    response = ops_client.post(URL + "rollback/", {"reason": "undo twice"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_rollback"
    actors = {a.actor for a in CacheAuditRecord.objects.all()}
    assert actors == {"ops-alice"}


@pytest.mark.django_db(transaction=True)
def test_rollback_window_expired_answers_409(ops_client, short_window):
    assert ops_client.post(URL + "apply/", {"capacity": 55, "reason": "short"}, format="json").status_code == 200
    time.sleep(short_window + 0.2)
    response = ops_client.post(URL + "rollback/", {"reason": "late"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "rollback_window_expired"
    assert "deadline" in response.json()["context"]


@pytest.mark.django_db
def test_confirm_then_snapshot_list_and_restore(ops_client, key_client):
    ops_client.post(URL + "apply/", {"capacity": 111, "ttl_seconds": 99, "reason": "one"}, format="json")
    response = ops_client.post(URL + "confirm/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["change"]["outcome"] == "confirmed"
    assert ops_client.post(URL + "confirm/", {}, format="json").json()["code"] == "no_open_window"

    listing = key_client.get(URL + "snapshots/")
    assert listing.status_code == 200
    snapshots = listing.json()["results"]
    assert len(snapshots) == 1 and listing.json()["count"] == 1
    snapshot_id = snapshots[0]["id"]
    assert {"hits", "misses", "size"} <= set(snapshots[0]["stats"])

    response = ops_client.post(URL + f"snapshots/{snapshot_id}/restore/", {"reason": "back"}, format="json")
    assert response.status_code == 200
    assert response.json()["change"]["kind"] == "restore"
    assert response.json()["settings"]["capacity"] == CacheSnapshot.objects.get(pk=snapshot_id).capacity
    again = ops_client.post(URL + f"snapshots/{snapshot_id}/restore/", {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "rollback_window_active"
    for snapshot in ("999999", "0", "9" * 40):  # the last one is beyond any database integer
        missing = ops_client.post(URL + f"snapshots/{snapshot}/restore/", {"reason": "x"}, format="json")
        assert missing.status_code == 404
        assert missing.json()["code"] == "snapshot_not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field_or_code", [
    ({"capacity": 0, "reason": "r"}, "capacity"),  # the bounds are the serializer's, hence the schema's
    ({"capacity": 99_999_999, "reason": "r"}, "capacity"),
    ({"ttl_seconds": -1, "reason": "r"}, "ttl_seconds"),
    ({"capacity": "many", "reason": "r"}, "capacity"),
    ({"policy": "fifo", "reason": "r"}, "policy"),
    ({"capacity": 10}, "reason"),
    ({"reason": "r"}, "non_field_errors"),  # nothing to apply: the schema's anyOf says so too
    ({"capacity": 10, "reason": "x" * 2001}, "reason"),
])
def test_apply_rejects_bad_input_with_400(ops_client, payload, field_or_code):
    response = ops_client.post(URL + "apply/", payload, format="json")
    assert response.status_code == 400, response.content
    problem = response.json()
    fields = {error.get("field") for error in problem.get("errors", [])}
    assert problem["code"] == field_or_code or field_or_code in fields
    assert CacheAuditRecord.objects.count() == 0
