"""`CadDocument`: JSON round trip and the invariants that keep stored summaries sane."""

from __future__ import annotations

import json

import pytest

from features.parsers.document import CadDocument, InvalidDocument
from features.parsers.stl import parse_stl

from .cad_builders import make_binary_stl, make_box_triangles


def make_document(**overrides) -> CadDocument:
    fields = dict(
        format="dxf", parser="ezdxf", entity_count=3, entity_kinds={"LINE": 2, "CIRCLE": 1},
        layers={"0": 3}, bbox=((0, 0, 0), (1, 2, 0)), units="mm", warnings=("w",), metadata={"k": 1},
    )
    fields.update(overrides)
    return CadDocument(**fields)


def test_round_trip_through_json():
    original = parse_stl(make_binary_stl(make_box_triangles()))
    restored = CadDocument.from_dict(json.loads(json.dumps(original.to_dict())))
    assert restored == original


def test_bbox_size():
    assert make_document().bbox_size == (1.0, 2.0, 0.0)
    assert make_document(bbox=None).bbox_size == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"entity_count": 4},
        {"entity_kinds": {"LINE": -1, "CIRCLE": 4}},
        {"bbox": ((0, 0, 0), (float("nan"), 1, 1))},
        {"bbox": ((2, 0, 0), (1, 1, 1))},
        {"volume": float("inf")},
        {"format": "dwg"},
        {"entity_count": True, "entity_kinds": {"LINE": 1}},
    ],
)
def test_invariants_are_enforced(overrides):
    with pytest.raises(InvalidDocument):
        make_document(**overrides)


def test_from_dict_rejects_garbage():
    with pytest.raises(InvalidDocument):
        CadDocument.from_dict({"format": "dxf"})
    with pytest.raises(InvalidDocument):
        CadDocument.from_dict({**make_document().to_dict(), "schema": 99})
    with pytest.raises(InvalidDocument):
        CadDocument.from_dict({**make_document().to_dict(), "bbox": [1, 2]})
