import numpy as np
import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from features.extractors import extract_features
from tests.vectors.conftest import make_vectors, register, store_cad_files
from vectors.errors import InvalidMigration, MigrationConflict
from vectors.models import MigrationRun, MigrationStagedVector, ServedVersion, Vector, VectorOpsAudit
from vectors.selectors import migration_preview, served_feature_version, vector_similarity_search
from vectors.services import vector_migration_run, vector_migration_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_v3(cad_sample_documents):
    """v3 vectors: some name a stored CAD file (recomputable), the rest have no source document."""
    store_cad_files(cad_sample_documents)
    for sha256, name, document in cad_sample_documents:
        from vectors.services import vector_upsert

        vector_upsert(key=sha256, feature_version="v3", values=extract_features(document, "v3"),
                      meta={"cad_file": sha256, "name": name})
    register("v3", make_vectors(40, 22, seed=5), prefix="orphan")
    return cad_sample_documents


def test_preview_equals_apply(mixed_v3, django_capture_on_commit_callbacks):
    preview = migration_preview(from_version="v3", to_version="v4")
    n_docs = len(mixed_v3)
    assert preview["counts"] == {"total": n_docs + 40, "recomputable": n_docs, "reparsed": 0, "padded": 40,
                                 "truncated": 0, "copied": 0, "needs_source": 0}
    assert preview["dimension_delta"] == 2 and preview["source_total"] == n_docs + 40
    assert any("zero-padded" in w for w in preview["warnings"])
    assert preview["stats"]["median_delta"] == preview["stats"]["p50"]

    with django_capture_on_commit_callbacks(execute=True):
        run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="ops-alice")
    run.refresh_from_db()  # the task ran in process on commit
    assert run.status == "completed"
    assert {k: run.stats[k] for k in ("counts", "stats", "dimension_delta", "warnings")} == \
           {k: preview[k] for k in ("counts", "stats", "dimension_delta", "warnings")}
    assert Vector.objects.filter(feature_version="v4").count() == n_docs + 40
    assert Vector.objects.filter(feature_version="v3").count() == n_docs + 40  # kept for rollback
    sha256, _, document = mixed_v3[0]
    migrated = Vector.objects.get(feature_version="v4", key=sha256)
    np.testing.assert_allclose(migrated.as_array(), extract_features(document, "v4"), rtol=1e-6)
    orphan = Vector.objects.get(feature_version="v4", key="orphan00003").as_array()
    assert orphan.shape == (24,) and orphan[22:].tolist() == [0.0, 0.0]
    assert served_feature_version() == "v4" and ServedVersion.objects.get().previous_version == "v3"
    assert REGISTRY.get_sample_value("vector_migrate_dimension_delta") == 2
    assert VectorOpsAudit.objects.filter(action="vector_migration_start").exists()


def test_downgrade_truncates_and_warns():
    register("v4", make_vectors(10, 24, seed=1))
    preview = migration_preview(from_version="v4", to_version="v2", limit=4)
    assert preview["counts"]["truncated"] == 4 and preview["dimension_delta"] == -12
    assert any("Downgrade" in w for w in preview["warnings"])
    assert preview["stats"]["avg_delta"] == 0.0  # the truncated vector is the new vector


def test_killed_half_way_resumes_and_never_serves_a_mix():
    source = make_vectors(50, 22, seed=8)
    register("v3", source)
    run = vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="t", enqueue=False)
    stops = iter([False, True])
    vector_migration_run(run_id=run.pk, batch_size=10, should_stop=lambda: next(stops))
    run.refresh_from_db()
    assert (run.status, run.processed, MigrationStagedVector.objects.count()) == ("interrupted", 20, 20)
    assert not Vector.objects.filter(feature_version="v4").exists()  # nothing half-migrated is served
    query = np.concatenate([source[0], [0, 0]]).tolist()
    assert vector_similarity_search(feature_version="v4", vector=query, k=5)["results"] == []

    with pytest.raises(MigrationConflict):
        vector_migration_start(from_version="v3", to_version="v4", dry_run=False, actor="t", enqueue=False)

    vector_migration_run(run_id=run.pk, batch_size=10)
    run.refresh_from_db()
    assert (run.status, run.processed, run.attempts) == ("completed", 50, 2)
    assert Vector.objects.filter(feature_version="v4").count() == 50
    assert not MigrationStagedVector.objects.exists()
    out = vector_similarity_search(feature_version="v4", vector=query, k=1)
    assert out["results"][0]["key"] == "k00000"


def test_dry_run_records_statistics_without_publishing(django_capture_on_commit_callbacks):
    register("v3", make_vectors(12, 22, seed=2))
    with django_capture_on_commit_callbacks(execute=True):
        run = vector_migration_start(from_version="v3", to_version="v4", dry_run=True, actor="t")
    run.refresh_from_db()
    assert run.status == "dry_run" and run.stats["counts"]["padded"] == 12
    assert not Vector.objects.filter(feature_version="v4").exists() and not MigrationStagedVector.objects.exists()


def test_same_or_unknown_versions_are_refused():
    with pytest.raises(InvalidMigration):
        migration_preview(from_version="v3", to_version="v3")
    with pytest.raises(Exception) as err:
        vector_migration_start(from_version="v3", to_version="v9", dry_run=False, actor="t")
    assert err.value.status == 422


def test_vectors_migrate_command(capsys):
    register("v3", make_vectors(30, 22, seed=4))
    call_command("vectors_migrate", "--from", "v3", "--to", "v4", "--dry-run", "--batch-size", "7")
    assert MigrationRun.objects.get().status == "dry_run"
    call_command("vectors_migrate", "--from", "v3", "--to", "v4", "--batch-size", "7")
    assert Vector.objects.filter(feature_version="v4").count() == 30
    out = capsys.readouterr()
    assert "completed" in out.out
