"""STL: the length rule, ASCII multi-solid, and hostile cases 1-6 of hostile-inputs.md."""

from __future__ import annotations

import math
import struct
import tracemalloc

import numpy as np
import pytest

from features.extractors import FEATURE_VERSIONS, extract_features
from features.parsers.errors import CadParseError
from features.parsers.sniff import sniff_format
from features.parsers.stl import parse_stl

from .cad_builders import make_ascii_stl, make_binary_stl, make_box_triangles


def test_binary_box_measures_exactly():
    doc = parse_stl(make_binary_stl(make_box_triangles((1.0, 2.0, 3.0), origin=(5.0, 0.0, -1.0))))
    assert doc.metadata["encoding"] == "binary"
    assert doc.facets == doc.entity_count == 12 and doc.entity_kinds == {"FACET": 12}
    assert doc.bbox == ((5.0, 0.0, -1.0), (6.0, 2.0, 2.0))
    assert doc.area == pytest.approx(2 * (1 * 2 + 2 * 3 + 1 * 3))
    assert doc.volume == pytest.approx(6.0)


def test_open_mesh_gets_no_volume_but_a_warning():
    doc = parse_stl(make_binary_stl(make_box_triangles()[:10]))
    assert doc.volume is None
    assert any("not closed" in w for w in doc.warnings)


def test_ascii_stl_reads_every_solid():
    data = make_ascii_stl({"left": make_box_triangles(), "right": make_box_triangles(origin=(10, 0, 0))[:4]})
    doc = parse_stl(data)
    assert doc.metadata["encoding"] == "ascii"
    assert doc.solids == 2
    assert doc.layers == {"left": 12, "right": 4}
    assert doc.facets == 16
    assert doc.bbox == ((0.0, 0.0, 0.0), (11.0, 2.0, 3.0))


def test_ascii_stl_with_leading_space_before_solid():
    data = make_ascii_stl({"part": make_box_triangles()}, leading=" ")
    assert sniff_format(data, None) == "stl"
    assert parse_stl(data).facets == 12


def test_ascii_stl_with_wrong_vertex_count_is_corrupt():
    vertex = b"      vertex 0.000000e+00 0.000000e+00 0.000000e+00\n"
    data = make_ascii_stl({"part": make_box_triangles()}).replace(vertex, b"", 1)
    with pytest.raises(CadParseError) as caught:
        parse_stl(data)
    assert caught.value.code == "parse_failed"


# -- hostile-inputs.md -----------------------------------------------------------------------------

def _refused_with_peak_memory(data: bytes) -> tuple[CadParseError, int]:
    """The error ``parse_stl`` refuses ``data`` with, and the peak memory traced while it did."""
    tracemalloc.start()
    try:
        with pytest.raises(CadParseError) as caught:
            parse_stl(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, peak


def test_hostile_1_huge_declared_count_is_refused_without_allocation():
    data = make_binary_stl(make_box_triangles()[:1], count=0xFFFFFFFF)
    assert sniff_format(data, "evil.stl") == "stl"
    error, peak = _refused_with_peak_memory(data)
    assert error.code == "parse_failed"
    assert error.context["declared_triangles"] == 0xFFFFFFFF
    assert error.context["size"] == 134
    assert peak < 1_000_000


def test_hostile_1_without_stl_name_is_an_unknown_format():
    data = make_binary_stl(make_box_triangles()[:1], count=0xFFFFFFFF)
    with pytest.raises(CadParseError) as caught:
        sniff_format(data, None)
    assert caught.value.code == "unknown_format"


def test_hostile_2_truncated_binary_is_refused_not_half_read():
    full = make_binary_stl(make_box_triangles())
    with pytest.raises(CadParseError) as caught:
        parse_stl(full[: 84 + 50 * 6 + 17])
    assert caught.value.code == "parse_failed"
    assert caught.value.context["declared_triangles"] == 12


def test_hostile_3_binary_with_solid_header_is_binary():
    data = make_binary_stl(make_box_triangles(), header=b"solid exported by a binary writer")
    assert data.startswith(b"solid ")
    assert sniff_format(data, None) == "stl"
    doc = parse_stl(data)
    assert doc.metadata["encoding"] == "binary" and doc.facets == 12


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_hostile_4_non_finite_coordinates_are_refused(bad):
    triangles = make_box_triangles()
    triangles[3, 1, 2] = bad
    with pytest.raises(CadParseError) as caught:
        parse_stl(make_binary_stl(triangles))
    assert caught.value.code == "parse_failed"
    assert caught.value.context["reason"] == "non_finite_coordinates"


def test_hostile_4_huge_finite_coordinates_give_finite_vectors():
    triangles = make_box_triangles() * 1e38  # 3e38 is close to float32's largest finite value
    doc = parse_stl(make_binary_stl(triangles))
    for version in FEATURE_VERSIONS:
        values = extract_features(doc, version)
        assert all(math.isfinite(v) for v in values)
        assert np.isfinite(np.asarray(values, dtype=np.float32)).all()


def test_hostile_5_ascii_without_newline_trips_the_line_limit_with_bounded_memory():
    data = b"solid " + b"x" * (64 * 1024 * 1024)
    error, peak = _refused_with_peak_memory(data)
    assert error.code == "line_too_long"
    assert peak < 16 * 1024 * 1024  # chunked scan: a few MiB whatever the input size


def test_hostile_6_zero_triangles_is_an_empty_document():
    with pytest.raises(CadParseError) as caught:
        parse_stl(b"\x00" * 80 + struct.pack("<I", 0))
    assert caught.value.code == "empty_document"


def test_hostile_6_empty_file_is_an_empty_document():
    with pytest.raises(CadParseError) as caught:
        sniff_format(b"", "part.stl")
    assert caught.value.code == "empty_document"


def test_ascii_solid_without_facets_is_empty():
    with pytest.raises(CadParseError) as caught:
        parse_stl(b"solid nothing\nendsolid nothing\n")
    assert caught.value.code == "empty_document"
