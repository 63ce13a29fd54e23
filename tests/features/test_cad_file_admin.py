"""The read-only CadFile admin: list, search by name and sha256, filter by format, summary shown."""

from __future__ import annotations

import pytest

from features.services import cad_file_ingest

from .cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines


@pytest.mark.django_db
def test_list_search_filter_and_read_only(admin_client_logged_in):
    stl = cad_file_ingest(data=make_binary_stl(make_box_triangles()), name="bracket.stl").cad_file
    dxf = cad_file_ingest(data=make_dxf_lines(5), name="outline.dxf").cad_file
    url = "/admin/features/cadfile/"
    page = admin_client_logged_in.get(url).content.decode()
    assert "bracket.stl" in page and "outline.dxf" in page
    by_sha = admin_client_logged_in.get(url, {"q": dxf.sha256}).content.decode()
    assert "outline.dxf" in by_sha and "bracket.stl" not in by_sha
    by_format = admin_client_logged_in.get(url, {"format__exact": "stl"}).content.decode()
    assert "bracket.stl" in by_format and "outline.dxf" not in by_format
    detail = admin_client_logged_in.get(f"{url}{stl.pk}/change/").content.decode()
    assert "entity_kinds" in detail and "FACET" in detail
    assert admin_client_logged_in.get(f"{url}add/").status_code == 403
    assert admin_client_logged_in.post(f"{url}{stl.pk}/delete/", {"post": "yes"}).status_code == 403
