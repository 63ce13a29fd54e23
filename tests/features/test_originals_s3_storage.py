"""The originals on S3 (django-storages' S3Storage, as CADML_ORIGINALS_STORAGE=s3 configures it), against moto's
in-process S3: same keys, stored once, downloaded byte-exact; and the settings that select it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from features.originals import original_key
from tests.conftest import mocked_s3_storage, storage_check_ids

from .cad_builders import make_binary_stl, make_box_triangles

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "cadml-originals-test"


@pytest.fixture
def s3_originals(settings, monkeypatch):
    with mocked_s3_storage(settings, monkeypatch, alias="cad_originals", bucket=BUCKET, location="originals") as client:
        yield client


@pytest.mark.django_db
def test_s3_originals_are_stored_once_and_returned_byte_exact(key_client, s3_originals):
    data = make_binary_stl(make_box_triangles())
    sha256 = hashlib.sha256(data).hexdigest()
    for name in ("first.stl", "second.stl"):
        response = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile(name, data), "classify": "false"},
                                   format="multipart")
        assert response.status_code == 201, response.json()
    objects = s3_originals.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [o["Key"] for o in objects] == [f"originals/{original_key(sha256)}"]
    stamp = objects[0]["LastModified"]
    download = key_client.get(f"/api/v1/files/{sha256}/content/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == data
    assert download["Content-Length"] == str(len(data)) and download["Content-Type"] == "model/stl"
    assert "first.stl" in download["Content-Disposition"]
    assert s3_originals.list_objects_v2(Bucket=BUCKET)["Contents"][0]["LastModified"] == stamp


@pytest.mark.django_db
def test_s3_object_gone_is_404_and_bucket_gone_is_503(key_client, s3_originals):
    data = make_binary_stl(make_box_triangles(size=(2.0, 2.0, 2.0)))
    sha256 = hashlib.sha256(data).hexdigest()
    response = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("p.stl", data)}, format="multipart")
    assert response.status_code == 201
    s3_originals.delete_object(Bucket=BUCKET, Key=f"originals/{original_key(sha256)}")
    assert key_client.get(f"/api/v1/files/{sha256}/content/").json()["code"] == "original_not_stored"
    s3_originals.delete_bucket(Bucket=BUCKET)
    other = make_binary_stl(make_box_triangles(size=(3.0, 2.0, 2.0)))
    refused = key_client.post("/api/v1/analyze/", {"file": SimpleUploadedFile("q.stl", other)}, format="multipart")
    assert refused.status_code == 503 and refused.json()["code"] == "original_storage_unavailable"


def _settings_in_child(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CADML_", "GUNICORN_"))}
    clean.update({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_SETTINGS_MODULE": "cadml_site.settings",
                  "CADML_VAR_DIR": os.environ["CADML_VAR_DIR"], **env})
    code = ("import json; from django.conf import settings; "
            "print(json.dumps(settings.STORAGES['cad_originals'], default=str))")
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_settings_select_the_filesystem_by_default_and_s3_by_env(tmp_path):
    import json

    default = _settings_in_child()
    assert default.returncode == 0, default.stderr
    config = json.loads(default.stdout)
    assert config["BACKEND"] == "features.originals.ContentAddressedFileSystemStorage"
    assert config["OPTIONS"]["location"] == str(Path(os.environ["CADML_VAR_DIR"]).resolve() / "originals")
    s3 = _settings_in_child(CADML_ORIGINALS_STORAGE="s3", CADML_ORIGINALS_S3_BUCKET="parts",
                            CADML_ORIGINALS_S3_ENDPOINT_URL="http://127.0.0.1:9000", CADML_ORIGINALS_S3_PREFIX="cad")
    assert s3.returncode == 0, s3.stderr
    options = json.loads(s3.stdout)["OPTIONS"]
    assert options["bucket_name"] == "parts" and options["location"] == "cad"
    assert options["endpoint_url"] == "http://127.0.0.1:9000" and options["file_overwrite"] is True
    missing = _settings_in_child(CADML_ORIGINALS_STORAGE="s3")
    assert missing.returncode != 0 and "CADML_ORIGINALS_S3_BUCKET is required but not set" in missing.stderr
    wrong = _settings_in_child(CADML_ORIGINALS_STORAGE="ftp")
    assert wrong.returncode != 0 and "CADML_ORIGINALS_STORAGE must be one of filesystem, s3" in wrong.stderr


def test_system_check_refuses_an_unwritable_originals_folder(tmp_path, settings):
    def ids(location):
        return storage_check_ids(settings, "cad_originals", "features.originals.ContentAddressedFileSystemStorage",
                                 location)

    assert "cadml.E010" not in ids(tmp_path / "not-yet" / "originals")  # created on the first upload
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert "cadml.E010" in ids(blocker / "originals")
