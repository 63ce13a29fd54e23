"""`manage.py make_demo_parts` and `manage.py ingest` (tasks run in process here; the Celery path is the same
`features.cad_file_import_stored` task)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from features.demo_parts import FAMILIES
from features.models import CadFile
from vectors.models import Vector


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    call_command("make_demo_parts", out=str(folder), count=5, seed=7, stdout=io.StringIO(), stderr=io.StringIO())
    return folder


def test_make_demo_parts_writes_five_families_in_three_formats(demo_dir):
    manifest = json.loads((demo_dir / "labels.json").read_text())
    names = sorted(manifest["parts"])
    assert len(names) == 15
    assert {entry["part_type"] for entry in manifest["parts"].values()} == set(FAMILIES)
    assert {name.rsplit(".", 1)[1] for name in names} == {"dxf", "stl", "step"}
    assert all((demo_dir / name).stat().st_size > 0 for name in names)


@pytest.mark.django_db(transaction=True)
def test_ingest_labels_parts_and_skips_duplicates(demo_dir, cad_samples_dir, tmp_path):
    broken = tmp_path / "broken.stl"
    broken.write_bytes(b"\x00" * 80 + (5).to_bytes(4, "little") + b"\x00" * 60)
    out = io.StringIO()
    call_command("ingest", str(demo_dir), str(broken), stdout=out, stderr=io.StringIO())
    summary = out.getvalue()
    assert "15 created, 0 duplicates skipped, 1 failed of 16 files" in summary
    assert "failed parse_failed: 1" in summary
    manifest = json.loads((demo_dir / "labels.json").read_text())
    for cad_file in CadFile.objects.all():
        expected = manifest["parts"][cad_file.original_name]
        assert cad_file.meta == {"part_type": expected["part_type"]}
        vector = Vector.objects.get(key=cad_file.sha256)
        assert vector.meta["part_type"] == expected["part_type"]
        assert vector.meta["cad_file"] == cad_file.sha256
    # dimensions are known: a plate's STEP bounding box is its length x width x thickness
    plate = CadFile.objects.get(original_name="plate_with_holes_001.step")
    dims = manifest["parts"]["plate_with_holes_001.step"]["dimensions"]
    lo, hi = plate.summary["bbox"]["min"], plate.summary["bbox"]["max"]
    assert hi[0] - lo[0] == pytest.approx(dims["length"], abs=1e-3)
    assert hi[1] - lo[1] == pytest.approx(dims["width"], abs=1e-3)
    assert hi[2] - lo[2] == pytest.approx(dims["thickness"], abs=1e-3)

    again = io.StringIO()
    call_command("ingest", str(demo_dir), stdout=again, stderr=io.StringIO())
    assert "0 created, 15 duplicates skipped, 0 failed of 15 files" in again.getvalue()


@pytest.mark.django_db(transaction=True)
def test_ingest_hands_workers_the_stored_original_not_a_path(tmp_path, monkeypatch, originals_dir):
    """A worker on another host cannot read the submitting host's files: each task names a sha256 in the originals
    storage. Here the source file is deleted before its task runs, as if the worker ran elsewhere."""
    import hashlib
    import shutil

    from analysis.management.commands import ingest as ingest_command
    from analysis.tasks import cad_file_import_stored_task
    from features.originals import original_key

    parts = tmp_path / "parts"
    call_command("make_demo_parts", out=str(parts), count=2, seed=11, stdout=io.StringIO(), stderr=io.StringIO())
    names = sorted(json.loads((parts / "labels.json").read_text())["parts"])
    contents = {name: (parts / name).read_bytes() for name in names}
    sent = []

    def delay_elsewhere(*args):
        sent.append(args)
        sha256, name = args[0], args[1]
        assert (originals_dir / original_key(sha256)).read_bytes() == contents[name]  # stored before sending
        (parts / name).unlink()  # the worker's host has no such path
        return cad_file_import_stored_task.apply(args=args)

    monkeypatch.setattr(ingest_command.cad_file_import_stored_task, "delay", delay_elsewhere)
    out = io.StringIO()
    call_command("ingest", str(parts), stdout=out, stderr=io.StringIO())
    assert f"{len(names)} created, 0 duplicates skipped, 0 failed" in out.getvalue()
    assert [args[:2] for args in sent] == [(hashlib.sha256(contents[n]).hexdigest(), n) for n in names]
    for name, data in contents.items():
        row = CadFile.objects.get(sha256=hashlib.sha256(data).hexdigest())
        assert row.original_name == name and row.has_original
        assert Vector.objects.filter(key=row.sha256).exists()
    shutil.rmtree(parts)


@pytest.mark.django_db(transaction=True)
def test_a_submitted_original_that_does_not_parse_is_removed(tmp_path, originals_dir):
    broken = tmp_path / "broken.stl"
    broken.write_bytes(b"\x00" * 80 + (5).to_bytes(4, "little") + b"\x00" * 60)
    out = io.StringIO()
    call_command("ingest", str(broken), stdout=out, stderr=io.StringIO())
    assert "0 created, 0 duplicates skipped, 1 failed of 1 files" in out.getvalue()
    assert not [p for p in originals_dir.rglob("*") if p.is_file()]


def test_ingest_refuses_a_missing_path(tmp_path):
    with pytest.raises(CommandError):
        call_command("ingest", str(tmp_path / "nope"), stdout=io.StringIO(), stderr=io.StringIO())


def test_make_demo_parts_refuses_a_bad_count(tmp_path):
    with pytest.raises(CommandError):
        call_command("make_demo_parts", out=str(tmp_path), count=0, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_analyze_classifies_with_a_model_trained_on_ingested_demo_parts(tmp_path, key_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    parts = tmp_path / "parts"
    call_command("make_demo_parts", out=str(parts), count=30, seed=3, stdout=io.StringIO(), stderr=io.StringIO())
    call_command("ingest", str(parts), stdout=io.StringIO(), stderr=io.StringIO())
    # the demo's flow on a fresh installation: ingest and train default to the served version (v5)
    call_command("train_classifier", activate=True, cv=3, stdout=io.StringIO(), stderr=io.StringIO())
    from modelops.models import ModelVersion

    assert set(ModelVersion.objects.values_list("feature_version", flat=True)) == {"v5"}
    fresh = tmp_path / "fresh"
    call_command("make_demo_parts", out=str(fresh), count=5, seed=99, stdout=io.StringIO(), stderr=io.StringIO())
    response = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(
        "flange.step", (fresh / "flange_001.step").read_bytes())}, format="multipart")
    assert response.status_code == 201, response.json()
    classification = response.json()["classification"]
    assert classification["status"] == "classified"
    assert classification["label"] in FAMILIES
    assert classification["model_version"]
    assert 1 <= len(classification["probabilities"]) <= 3
