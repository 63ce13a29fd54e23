"""Cross-app selectors: stored summaries and stored features (used by vectors and cachectl)."""

from __future__ import annotations

import pytest

from features.extractors import extract_features
from features.selectors import cad_file_document, stored_features
from features.services import cad_file_ingest

from .cad_builders import make_binary_stl, make_box_triangles


@pytest.mark.django_db
def test_stored_summary_and_features_match_a_fresh_parse():
    data = make_binary_stl(make_box_triangles((3, 2, 1)))
    ingest = cad_file_ingest(data=data, name="box.stl")
    document = cad_file_document(sha256=ingest.cad_file.sha256)
    assert document.bbox == ((0.0, 0.0, 0.0), (3.0, 2.0, 1.0))
    stored = stored_features(sha256=ingest.cad_file.sha256, version="v2")
    assert stored == {"values": extract_features(document, "v2"), "document_id": ingest.cad_file.pk}


@pytest.mark.django_db
def test_unknown_sha256_gives_none():
    assert cad_file_document(sha256="0" * 64) is None
    assert stored_features(sha256="0" * 64, version="v4") is None


@pytest.mark.django_db
def test_ingest_reuses_known_content():
    data = make_binary_stl(make_box_triangles())
    first = cad_file_ingest(data=data, name="a.stl")
    second = cad_file_ingest(data=data, name="b.stl")
    assert first.reused is False and second.reused is True
    assert second.cad_file.pk == first.cad_file.pk and second.parse_seconds == 0
