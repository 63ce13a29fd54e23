"""OBJ: triangulation, groups as layers, and hostile case 16 (path traversal, indices out of range)."""

from __future__ import annotations

import builtins
import io
import os

import pytest

from features.parsers.errors import CadParseError
from features.parsers.obj import parse_obj
from features.parsers.sniff import sniff_format

from .cad_builders import make_obj

SQUARE = [(0, 0, 0), (2, 0, 0), (2, 3, 0), (0, 3, 0)]


def test_quad_is_triangulated():
    doc = parse_obj(make_obj(SQUARE, [(1, 2, 3, 4)]))
    assert doc.facets == 2
    assert doc.area == pytest.approx(6.0)
    assert doc.bbox == ((0.0, 0.0, 0.0), (2.0, 3.0, 0.0))


def test_groups_become_layers():
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\ng first\nf 1 2 3\ng second\nf 1 2 4\nf 1 3 4\n"
    doc = parse_obj(text.encode())
    assert sorted(doc.layers.values()) == [1, 2]


def test_hostile_16_mtllib_traversal_is_never_opened_and_bad_indices_are_corrupt(monkeypatch, tmp_path):
    data = make_obj(SQUARE, [(1, 2, 3), (1, 2, 99)], header="mtllib ../../../../etc/passwd\nusemtl x")
    assert sniff_format(data, "evil.obj") == "obj"
    opened = []
    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def spy(target, *args, **kwargs):
        opened.append(str(target))
        return real_open(target, *args, **kwargs)

    def os_spy(target, *args, **kwargs):
        opened.append(str(target))
        return real_os_open(target, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    monkeypatch.setattr(os, "open", os_spy)
    with pytest.raises(CadParseError) as caught:
        parse_obj(data)
    monkeypatch.setattr(builtins, "open", real_open)
    assert caught.value.code == "parse_failed"
    assert caught.value.context["reason"] == "index_out_of_range"
    assert not [p for p in opened if "passwd" in p or "mtl" in p], opened


def test_mtllib_alone_is_ignored_and_the_mesh_parses():
    data = make_obj(SQUARE, [(1, 2, 3)], header="mtllib ../../../../etc/passwd")
    doc = parse_obj(data)
    assert doc.facets == 1


def test_obj_without_faces_is_empty():
    with pytest.raises(CadParseError) as caught:
        parse_obj(b"v 0 0 0\nv 1 1 1\n")
    assert caught.value.code == "empty_document"
