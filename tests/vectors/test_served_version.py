"""One truth for the served version: recorded in the database when first needed (an installation that already holds
vectors keeps what it serves, an empty one takes CADML_FEATURE_VERSION), the default of every app, switched only by
a completed migration and never half-migrated."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.features.cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines
from tests.vectors.conftest import make_vectors, register
from vectors.models import MigrationRun, ServedVersion, Vector, VectorOpsAudit
from vectors.selectors import served_feature_version
from vectors.services import vector_migration_run, vector_migration_start

pytestmark = pytest.mark.django_db


def analyze(client, name: str, data: bytes, **fields):
    return client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(name, data), "classify": "false", **fields},
                       format="multipart")


def test_a_new_installation_serves_the_configured_version_and_records_it(settings):
    settings.CADML_FEATURE_VERSION = "v3"
    assert not ServedVersion.objects.exists()
    assert served_feature_version() == "v3"
    assert ServedVersion.objects.get().feature_version == "v3"
    audit = VectorOpsAudit.objects.get(action="served_version_recorded")
    assert audit.actor == "system" and audit.after == {"feature_version": "v3", "configured": "v3",
                                                       "vectors_per_version": {}}
    settings.CADML_FEATURE_VERSION = "v4"  # a later change of the setting does not upgrade silently
    assert served_feature_version() == "v3"
    assert VectorOpsAudit.objects.filter(action="served_version_recorded").count() == 1


def test_an_existing_installation_keeps_the_version_its_vectors_have(settings):
    """Upgraded past a change of the default: its vectors are v2 (and a few v3 a client asked for)."""
    register("v2", make_vectors(5, 12, seed=1))
    register("v3", make_vectors(2, 22, seed=2))
    settings.CADML_FEATURE_VERSION = "v4"
    assert served_feature_version() == "v2"
    assert VectorOpsAudit.objects.get(action="served_version_recorded").after["vectors_per_version"] == \
        {"v2": 5, "v3": 2}


def test_an_existing_installation_that_configured_a_version_with_vectors_keeps_it(settings):
    register("v2", make_vectors(5, 12, seed=1))
    register("v3", make_vectors(2, 22, seed=2))
    settings.CADML_FEATURE_VERSION = "v3"
    assert served_feature_version() == "v3"


def test_the_served_version_is_the_default_everywhere_and_follows_a_migration(key_client, ops_client, settings,
                                                                               django_capture_on_commit_callbacks):
    settings.CADML_FEATURE_VERSION = "v3"
    first = analyze(key_client, "a.stl", make_binary_stl(make_box_triangles())).json()
    assert first["features"]["version"] == "v3" and first["features"]["dimension"] == 22
    analyze(key_client, "b.dxf", make_dxf_lines(6))

    def defaults() -> dict:
        versions = key_client.get("/api/v1/features/versions/").json()
        listed = key_client.get("/api/v1/vectors/").json()["results"]
        similar = key_client.post("/api/v1/vectors/similarity/", {"key": first["file"]["sha256"], "k": 5},
                                  format="json").json()
        health = key_client.get("/api/v1/health/").json()["sections"]["vectors"]["served_version"]
        return {"versions": [v["version"] for v in versions if v["default"]],
                "slots": len(key_client.get("/api/v1/features/slots/").json()),
                "listed": {v["feature_version"] for v in listed},
                "similar": {r["key"] for r in similar["results"]},
                "health": health["feature_version"], "previous": health["previous_version"]}

    before = defaults()
    assert before["versions"] == ["v3"] and before["slots"] == 22 and before["listed"] == {"v3"}
    assert before["health"] == "v3" and before["previous"] is None and len(before["similar"]) == 1

    with django_capture_on_commit_callbacks(execute=True):
        started = ops_client.post("/api/v1/vectors/migrate/", {"from_version": "v3", "to_version": "v4"},
                                  format="json")
    assert started.status_code == 202
    assert MigrationRun.objects.get(pk=started.json()["id"]).status == "completed"

    after = defaults()
    assert after["versions"] == ["v4"] and after["slots"] == 24 and after["listed"] == {"v4"}
    assert after["health"] == "v4" and after["previous"] == "v3" and after["similar"] == before["similar"]
    third = analyze(key_client, "c.stl", make_binary_stl(make_box_triangles(size=(5.0, 1.0, 1.0)))).json()
    assert third["features"]["version"] == "v4" and third["vector"]["key"] == third["file"]["sha256"]
    assert Vector.objects.filter(key=third["file"]["sha256"]).values_list("feature_version", flat=True).get() == "v4"
    # the configured version changes nothing now
    settings.CADML_FEATURE_VERSION = "v1"
    assert analyze(key_client, "d.dxf", make_dxf_lines(9)).json()["features"]["version"] == "v4"


def test_never_half_migrated_while_a_run_is_staged_and_late_writes_are_carried(key_client, settings):
    """Between the batches of a run, everything still serves the source version; a vector analyze registers
    after the last batch is staged in the publishing transaction, so the switched version holds it too."""
    settings.CADML_FEATURE_VERSION = "v3"
    for size in range(1, 4):
        analyze(key_client, f"p{size}.stl", make_binary_stl(make_box_triangles(size=(float(size), 1.0, 1.0))))
    run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="ops-alice",
                                 enqueue=False)
    run = vector_migration_run(run_id=run.pk, batch_size=1, should_stop=lambda: True)
    assert run.status == "interrupted" and run.processed == 1
    assert served_feature_version() == "v3"
    late = analyze(key_client, "late.dxf", make_dxf_lines(11)).json()
    assert late["features"]["version"] == "v3"

    from vectors.services import migration as migration_module

    real_stage = migration_module._stage_batch
    empty_batches = []

    def stage_then_register_late(run, batch_size):
        staged = real_stage(run, batch_size)
        if staged == 0:
            empty_batches.append(run.cursor)
            if len(empty_batches) == 1:  # the run's loop found nothing more: it is about to publish
                analyze(key_client, "later.dxf", make_dxf_lines(13))
        return staged

    migration_module._stage_batch = stage_then_register_late
    try:
        run = vector_migration_run(run_id=run.pk, batch_size=10)
    finally:
        migration_module._stage_batch = real_stage
    assert run.status == "completed" and served_feature_version() == "v4"
    assert set(Vector.objects.filter(feature_version="v4").values_list("key", flat=True)) == \
        set(Vector.objects.filter(feature_version="v3").values_list("key", flat=True))
    assert Vector.objects.filter(feature_version="v4").count() == 5 and run.stats["counts"]["total"] == 5
    assert len(empty_batches) == 2  # the second empty look is the publishing transaction's, after staging "later"


def test_train_classifier_defaults_to_the_served_version(settings, capsys):
    settings.CADML_FEATURE_VERSION = "v2"
    rng_vectors = make_vectors(30, 12, seed=3)
    register("v2", rng_vectors, metas=[{"part_type": "bracket" if i % 2 else "flange"} for i in range(30)])
    call_command("train_classifier", "--cv", "2", "--label", "served-default")
    from modelops.models import ModelVersion

    assert ModelVersion.objects.get(label="served-default").feature_version == "v2"
