"""Uploaded originals: kept once per content in the cad_originals storage, before the CadFile row commits, and
returned byte-exact by GET /api/v1/files/{sha256}/content/ (and the admin)."""

from __future__ import annotations

import errno
import hashlib
import threading
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.services import cad_file_import
from features.models import CadFile
from features.originals import ContentAddressedFileSystemStorage, original_key, original_save
from features.services import cad_file_ingest

from .cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines

ANALYZE = "/api/v1/analyze/"
FOLDERS = {"dxf": "image/vnd.dxf", "stl": "model/stl", "step": "model/step", "iges": "model/iges",
           "obj": "model/obj"}


def content_url(sha256: str) -> str:
    return f"/api/v1/files/{sha256}/content/"


def analyze(client, name: str, data: bytes, **fields):
    fields = {"classify": "false", "register_vector": "false", **fields}
    return client.post(ANALYZE, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_every_shared_sample_comes_back_byte_exact(key_client, cad_samples_dir, originals_dir):
    """Every good sample of every format: uploaded through analyze, downloaded through the API, same bytes."""
    returned, refused = {folder: 0 for folder in FOLDERS}, []
    for folder, media_type in FOLDERS.items():
        for path in sorted(p for p in (cad_samples_dir / folder).iterdir() if p.is_file()):
            data = path.read_bytes()
            response = analyze(key_client, path.name, data)
            if response.status_code != 201:
                refused.append((path.name, response.status_code, response.json()["code"]))
                assert response.status_code == 422, response.json()  # a file the parser refuses is not kept
                assert not CadFile.objects.filter(sha256=hashlib.sha256(data).hexdigest()).exists()
                continue
            body = response.json()
            assert body["file"]["original_stored"] is True
            sha256 = hashlib.sha256(data).hexdigest()
            download = key_client.get(content_url(sha256))
            assert download.status_code == 200, path.name
            assert body_of(download) == data, path.name
            assert download["Content-Type"] == media_type
            assert download["Content-Length"] == str(len(data))
            assert download["ETag"] == f'"{sha256}"'
            assert download["Content-Disposition"].startswith("attachment;") and path.name in \
                download["Content-Disposition"]
            returned[folder] += 1
    assert all(count > 0 for count in returned.values()), returned
    assert sum(returned.values()) >= 55, (returned, refused)
    # one stored object per distinct content, at its content key, no temporary file left behind
    keys = set(CadFile.objects.values_list("original_key", flat=True))
    assert {p.relative_to(originals_dir).as_posix() for p in stored_files(originals_dir)} == keys
    assert all(key == original_key(key.rsplit("/", 1)[-1]) for key in keys)


@pytest.mark.django_db
def test_same_content_is_stored_once(key_client, originals_dir):
    data = make_binary_stl(make_box_triangles())
    first = analyze(key_client, "a.stl", data).json()
    second = analyze(key_client, "renamed.stl", data).json()
    assert second["reused_file"] is True and first["file"]["sha256"] == second["file"]["sha256"]
    files = stored_files(originals_dir)
    assert len(files) == 1 and files[0].read_bytes() == data
    stamp = files[0].stat().st_mtime_ns
    assert original_save(sha256=hashlib.sha256(data).hexdigest(), data=data) == (files[0].relative_to(
        originals_dir).as_posix(), False)
    assert files[0].stat().st_mtime_ns == stamp  # not written again


def test_concurrent_writers_of_the_same_content_leave_one_file(tmp_path):
    """Both writers pass the existence check before either writes: the hard link lets one file in, once."""
    storage = ContentAddressedFileSystemStorage(location=str(tmp_path))
    data = b"solid x\nendsolid x\n" * 1000
    sha256 = hashlib.sha256(data).hexdigest()
    barrier = threading.Barrier(8)
    saved, errors = [], []

    class Racing(ContentAddressedFileSystemStorage):
        def exists(self, name):
            answer = super().exists(name)
            barrier.wait(timeout=10)  # every writer has looked before any writes
            return answer

    racing = Racing(location=str(tmp_path))

    def write():
        try:
            saved.append(racing.save(original_key(sha256), ContentFile(data)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert saved == [original_key(sha256)] * 8
    assert [p.name for p in stored_files(tmp_path)] == [sha256]
    assert storage.open(original_key(sha256)).read() == data


def test_save_refuses_data_that_does_not_match_its_sha256(originals_dir):
    with pytest.raises(ValueError):
        original_save(sha256="0" * 64, data=b"abc")
    assert stored_files(originals_dir) == []


@pytest.mark.django_db
def test_original_is_written_before_the_row_and_a_failed_write_leaves_no_row(key_client, monkeypatch,
                                                                                originals_dir):
    data = make_dxf_lines(4)
    sha256 = hashlib.sha256(data).hexdigest()
    seen_rows = []
    real_link = ContentAddressedFileSystemStorage._link_into_place

    def spying_link(self, temporary, name):
        seen_rows.append(CadFile.objects.filter(sha256=sha256).exists())
        return real_link(self, temporary, name)

    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_link_into_place", spying_link)
    assert analyze(key_client, "ok.dxf", data).status_code == 201
    assert seen_rows == [False] and CadFile.objects.get(sha256=sha256).has_original

    def failing_write(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_write_temporary", failing_write)
    other = make_binary_stl(make_box_triangles(size=(3.0, 1.0, 1.0)))
    response = analyze(key_client, "full-disk.stl", other)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    problem = response.json()
    assert problem["code"] == "original_storage_unavailable" and problem["stage"] == "originals"
    assert not CadFile.objects.filter(sha256=hashlib.sha256(other).hexdigest()).exists()
    assert len(stored_files(originals_dir)) == 1


@pytest.mark.django_db
def test_the_original_is_written_while_the_worker_parses_and_put_in_place_after_it(key_client, monkeypatch,
                                                                                  originals_dir):
    """The temporary file is written and fsynced by the request's own thread (no thread is started for it) once a
    parse worker has the upload and before its answer is taken; its name is given (the hard link) only once the parse
    has succeeded, and the file is whole and durable before the 201."""
    from features.parse_pool import get_parse_pool

    data = make_dxf_lines(9)
    sha256 = hashlib.sha256(data).hexdigest()
    pool = get_parse_pool()
    tasks_before = pool.status()["tasks"]
    request_thread = threading.current_thread()
    threads_before = threading.active_count()
    order = []
    real_write = ContentAddressedFileSystemStorage._write_temporary
    real_link = ContentAddressedFileSystemStorage._link_into_place

    def spying_write(self, name, content):
        status = pool.status()
        order.append(("writing", threading.current_thread() is request_thread, threading.active_count(),
                      status["tasks"] == tasks_before + 1 and status["busy"] >= 1))  # handed over, not yet answered
        temporary = real_write(self, name, content)
        order.append(("written", Path(temporary).read_bytes() == data, (originals_dir / original_key(sha256)).exists()))
        return temporary

    def spying_link(self, temporary, name):
        order.append(("linked", CadFile.objects.filter(sha256=sha256).exists()))
        return real_link(self, temporary, name)

    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_write_temporary", spying_write)
    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_link_into_place", spying_link)
    assert analyze(key_client, "during.dxf", data).status_code == 201
    assert order == [("writing", True, threads_before, True), ("written", True, False), ("linked", False)]
    assert [p.name for p in stored_files(originals_dir)] == [sha256]
    assert (originals_dir / original_key(sha256)).read_bytes() == data


@pytest.mark.django_db
def test_a_file_that_does_not_parse_leaves_nothing_in_the_storage(key_client, originals_dir):
    data = make_dxf_lines(6)[: len(make_dxf_lines(6)) // 2] + b"\n  0\nGARBAGE\n"
    response = analyze(key_client, "half.dxf", data)
    assert response.status_code == 422
    assert stored_files(originals_dir) == []  # neither the original nor its temporary file


@pytest.mark.django_db
def test_a_write_that_fails_while_a_parse_fails_answers_the_parse(key_client, monkeypatch, originals_dir):
    def failing_write(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_write_temporary", failing_write)
    response = analyze(key_client, "empty.dxf", b"")
    assert response.status_code in (415, 422) and response.json()["stage"] == "parse"
    assert stored_files(originals_dir) == []


def _legacy_row(data: bytes, name: str, originals_dir: Path) -> CadFile:
    """A row as stored before originals were kept: no original_key, nothing in the storage."""
    cad_file = cad_file_ingest(data=data, name=name).cad_file
    (originals_dir / cad_file.original_key).unlink()
    CadFile.objects.filter(pk=cad_file.pk).update(original_key="", original_stored_at=None)
    cad_file.refresh_from_db()
    return cad_file


@pytest.mark.django_db
def test_a_row_without_original_answers_404_until_the_file_is_uploaded_again(key_client, originals_dir):
    data = make_binary_stl(make_box_triangles(size=(2.0, 2.0, 2.0)))
    legacy = _legacy_row(data, "old.stl", originals_dir)
    response = key_client.get(content_url(legacy.sha256))
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "original_not_stored"
    assert response.json()["context"] == {"sha256": legacy.sha256}
    again = analyze(key_client, "old-again.stl", data)
    assert again.status_code == 201 and again.json()["reused_file"] is True
    assert again.json()["file"]["original_stored"] is True
    legacy.refresh_from_db()
    assert legacy.has_original and legacy.original_stored_at is not None
    download = key_client.get(content_url(legacy.sha256))
    assert download.status_code == 200 and body_of(download) == data
    assert "old.stl" in download["Content-Disposition"]  # the name of the first upload


@pytest.mark.django_db
def test_ingest_command_path_backfills_a_missing_original(tmp_path, originals_dir):
    data = make_dxf_lines(7)
    legacy = _legacy_row(data, "drawing.dxf", originals_dir)
    path = tmp_path / "drawing.dxf"
    path.write_bytes(data)
    assert cad_file_import(path=str(path))["status"] == "duplicate"
    legacy.refresh_from_db()
    assert legacy.has_original and (originals_dir / legacy.original_key).read_bytes() == data


@pytest.mark.django_db
def test_a_stored_object_gone_from_the_storage_is_404_not_500(key_client, originals_dir):
    cad_file = cad_file_ingest(data=make_dxf_lines(3), name="gone.dxf").cad_file
    (originals_dir / cad_file.original_key).unlink()
    response = key_client.get(content_url(cad_file.sha256))
    assert response.status_code == 404 and response.json()["code"] == "original_not_stored"


@pytest.mark.django_db
def test_unknown_or_malformed_sha_and_missing_key(key_client, anon_client):
    for sha in ("a" * 64, "not-a-sha", "A" * 63):
        response = key_client.get(content_url(sha))
        assert response.status_code == 404 and response.json()["code"] == "cad_file_not_found"
    cad_file = cad_file_ingest(data=make_dxf_lines(2), name="x.dxf").cad_file
    response = anon_client.get(content_url(cad_file.sha256))
    assert response.status_code == 401 and "WWW-Authenticate" in response


@pytest.mark.django_db
def test_upper_case_sha_any_accept_header_and_if_none_match(key_client):
    data = make_dxf_lines(5)
    cad_file = cad_file_ingest(data=data, name="dwg-export.dxf").cad_file
    response = key_client.get(content_url(cad_file.sha256.upper()), HTTP_ACCEPT="image/vnd.dxf")
    assert response.status_code == 200 and body_of(response) == data
    assert "private" in response["Cache-Control"]
    cached = key_client.get(content_url(cad_file.sha256), HTTP_IF_NONE_MATCH=f'"{cad_file.sha256}"')
    assert cached.status_code == 304 and cached["ETag"] == f'"{cad_file.sha256}"'
    stale = key_client.get(content_url(cad_file.sha256), HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200


@pytest.mark.django_db
def test_storage_read_failure_is_503(key_client, monkeypatch):
    cad_file = cad_file_ingest(data=make_dxf_lines(6), name="y.dxf").cad_file

    def failing_open(self, name, mode="rb"):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ContentAddressedFileSystemStorage, "_open", failing_open)
    response = key_client.get(content_url(cad_file.sha256))
    assert response.status_code == 503 and response.json()["code"] == "original_storage_unavailable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_schema_documents_every_status_of_the_content_operation(key_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/files/{sha256}/content/"]["get"]
    assert set(operation["responses"]) == {"200", "304", "401", "404", "429", "503"}
    assert "application/octet-stream" in operation["responses"]["200"]["content"]


@pytest.mark.django_db
def test_admin_links_to_the_original_and_serves_it_to_staff(admin_client_logged_in, client, django_user_model,
                                                              originals_dir):
    data = make_binary_stl(make_box_triangles(size=(4.0, 1.0, 1.0)))
    stored = cad_file_ingest(data=data, name="bracket.stl").cad_file
    legacy = _legacy_row(make_dxf_lines(9), "legacy.dxf", originals_dir)
    listing = admin_client_logged_in.get("/admin/features/cadfile/").content.decode()
    download_url = f"/admin/features/cadfile/{stored.pk}/original/"
    assert download_url in listing and "not stored" in listing
    detail = admin_client_logged_in.get(f"/admin/features/cadfile/{stored.pk}/change/").content.decode()
    assert download_url in detail and f"/api/v1/files/{stored.sha256}/content/" in detail
    response = admin_client_logged_in.get(download_url)
    assert response.status_code == 200 and body_of(response) == data
    assert admin_client_logged_in.get(f"/admin/features/cadfile/{legacy.pk}/original/").status_code == 404
    # a staff user without the view permission on CAD files, and an anonymous visitor, get nothing
    clerk = django_user_model.objects.create_user(username="clerk", password="pw-for-tests-only", is_staff=True)
    client.force_login(clerk)
    assert client.get(download_url).status_code == 403
    client.logout()
    assert client.get(download_url).status_code == 302  # to the admin login


@pytest.mark.django_db
def test_an_original_the_parse_did_not_write_is_written_by_the_commit(key_client, monkeypatch, originals_dir):
    """A parse runner that never calls `while_parsing` (or one that failed before it could) loses nothing: the commit
    writes the original itself, whole, before putting it in place."""
    import features.services as services

    real_parse = services._parse
    handed = []

    def parse_without_the_write(data_, name_, *, while_parsing=None):
        handed.append(while_parsing is not None)
        return real_parse(data_, name_)

    monkeypatch.setattr(services, "_parse", parse_without_the_write)
    data = make_dxf_lines(11)
    assert analyze(key_client, "late-writer.dxf", data).status_code == 201
    assert handed == [True]
    assert (originals_dir / original_key(hashlib.sha256(data).hexdigest())).read_bytes() == data
    assert [p.name for p in stored_files(originals_dir)] == [hashlib.sha256(data).hexdigest()]  # no temporary left
