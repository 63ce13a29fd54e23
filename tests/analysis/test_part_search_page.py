"""The search page for people (/search/): behind Django's login (any active user), upload a part or pick a stored one,
see its nearest parts with their match kind, score, format, name and thumbnail, and download them."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analysis.services import analysis_create
from features.models import CadFile
from features.services import cad_file_thumbnail_render
from vectors.models import Vector

from tests.features.cad_builders import make_binary_stl, make_box_triangles

SEARCH = "/search/"
BOX = make_box_triangles((10.0, 20.0, 30.0))
ROTATE = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def library(db):
    """Four registered parts (v5) with thumbnails: the box, the box turned, the box x3, a plate."""
    parts = {
        "box.stl": BOX,
        "box-turned.stl": BOX @ ROTATE.T + 5.0,
        "box-x3.stl": BOX * 3.0,
        "plate.stl": make_box_triangles((100.0, 100.0, 2.0)),
    }
    rows = {}
    for name, triangles in parts.items():
        analysis = analysis_create(data=make_binary_stl(triangles), name=name, classify=False, feature_version="v5")
        cad_file_thumbnail_render(cad_file_id=analysis.cad_file_id)
        rows[name] = analysis.cad_file
    return rows


@pytest.fixture
def person(db, django_user_model):
    """An active user who is not staff and holds no permission."""
    user = django_user_model.objects.create_user(username="engineer-eve", password="pw-for-tests-only")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def cards(html: str) -> list[str]:
    return re.findall(r'<div class="card result">(.*?)</div>\s*(?=<div class="card result">|</div>)', html, re.S)


def test_login_is_required_for_every_page(client, library):
    sha = library["box.stl"].sha256
    for url in (SEARCH, f"{SEARCH}?file={sha}", f"{SEARCH}files/{sha}/thumbnail/", f"{SEARCH}files/{sha}/download/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/search/login/?next="), url
    assert client.post(SEARCH, {"file": SimpleUploadedFile("a.stl", b"x")}).status_code == 302


def test_a_person_logs_in_with_the_form(client, django_user_model):
    django_user_model.objects.create_user(username="engineer-eve", password="pw-for-tests-only")
    page = client.get("/search/login/?next=/search/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    done = client.post("/search/login/", {"username": "engineer-eve", "password": "pw-for-tests-only",
                                          "next": "/search/"})
    assert done.status_code == 302 and done["Location"] == "/search/"
    assert client.get(SEARCH).status_code == 200
    inactive = django_user_model.objects.create_user(username="gone", password="pw-for-tests-only", is_active=False)
    other = Client()
    refused = other.post("/search/login/", {"username": inactive.username, "password": "pw-for-tests-only"})
    assert refused.status_code == 200 and "didn" in refused.content.decode()


def test_upload_shows_match_kinds_thumbnails_and_downloads_without_registering(person, library):
    before = Vector.objects.count()
    response = person.post(SEARCH, {"file": SimpleUploadedFile("query-box.stl", make_binary_stl(BOX))})
    assert response.status_code == 200
    html = response.content.decode()
    assert "add_to_library" not in html  # no permission: no box to tick
    assert Vector.objects.count() == before  # analysed, not registered
    shown = cards(html)
    assert len(shown) == 4
    by_name = {re.search(r"<strong>(.*?)</strong>", card).group(1): card for card in shown}
    assert "exact copy" in by_name["box.stl"]  # the same content, registered earlier
    assert "duplicate" in by_name["box-turned.stl"]
    assert re.search(r"same shape, scale ×3\.0000", by_name["box-x3.stl"])
    assert "similar" in by_name["plate.stl"]
    for name, card in by_name.items():
        row = library[name]
        assert f'src="/search/files/{row.sha256}/thumbnail/"' in card
        assert f'href="/search/files/{row.sha256}/download/"' in card
        assert re.search(r"score \d\.\d{4} · STL", card)
    picture = person.get(f"/search/files/{library['plate.stl'].sha256}/thumbnail/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    download = person.get(f"/search/files/{library['plate.stl'].sha256}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == make_binary_stl(
        make_box_triangles((100.0, 100.0, 2.0)))
    assert person.get(f"/search/files/{'0' * 64}/download/").status_code == 404


def test_pick_a_stored_part_by_name(person, library):
    listing = person.get(SEARCH, {"q": "turned"}).content.decode()
    turned = library["box-turned.stl"].sha256
    assert f"?file={turned}" in listing and "plate.stl" not in listing
    html = person.get(SEARCH, {"file": turned}).content.decode()
    by_name = {re.search(r"<strong>(.*?)</strong>", card).group(1): card for card in cards(html)}
    assert set(by_name) == {"box.stl", "box-x3.stl", "plate.stl"}  # itself left out
    assert "duplicate" in by_name["box.stl"] and "same shape" in by_name["box-x3.stl"]
    assert person.get(SEARCH, {"file": "f" * 64}).status_code == 404


def test_add_to_the_library_needs_the_permission(person, library):
    data = make_binary_stl(make_box_triangles((7.0, 7.0, 7.0)))
    ticked = person.post(SEARCH, {"file": SimpleUploadedFile("cube.stl", data), "add_to_library": "on"})
    assert ticked.status_code == 200 and not Vector.objects.filter(key=CadFile.objects.latest("id").sha256).exists()
    person.user.user_permissions.add(Permission.objects.get(codename="add_vector", content_type__app_label="vectors"))
    allowed = Client()
    allowed.force_login(person.user)
    page = allowed.get(SEARCH).content.decode()
    assert 'name="add_to_library"' in page
    added = allowed.post(SEARCH, {"file": SimpleUploadedFile("cube.stl", data), "add_to_library": "on"})
    assert added.status_code == 200 and "Added to the library." in added.content.decode()
    assert Vector.objects.filter(key=CadFile.objects.get(original_name="cube.stl").sha256).exists()


def test_a_bad_upload_is_said_on_the_page(person, db):
    response = person.post(SEARCH, {"file": SimpleUploadedFile("notes.txt", b"hello, not a CAD file")})
    assert response.status_code == 415
    assert 'class="error"' in response.content.decode()
