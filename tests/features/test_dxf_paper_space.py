"""A DXF whose entities all sit in a paper space layout is counted and described from the layout, with a warning
(it used to answer 422 empty_document)."""

from __future__ import annotations

import io

import ezdxf
import numpy as np
import pytest
from ezdxf import recover

from features.extractors import extract_features
from features.extractors.v5 import split_v5
from features.parsers.dispatch import parse_document
from features.parsers.errors import CadParseError
from features.parsers.format_parsers import parse_format


def _bytes(doc) -> bytes:
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode(doc.output_encoding)


def moved_to_paper_space(data: bytes) -> bytes:
    """The same drawing with every model space entity moved to the first paper space layout."""
    doc, _ = recover.read(io.BytesIO(data))
    msp = doc.modelspace()
    paper = doc.paperspace()
    for entity in list(msp):
        msp.move_to_layout(entity, paper)
    assert len(doc.modelspace()) == 0
    return _bytes(doc)


def test_a_shared_drawing_moved_to_paper_space_is_counted_and_described(cad_samples_dir, parse_pool):
    data = (cad_samples_dir / "dxf/cadquery__gear.dxf").read_bytes()
    model = parse_format("dxf", data)
    paper = parse_document(moved_to_paper_space(data), name="gear_paper.dxf", pool=parse_pool)
    assert paper.entity_count == model.entity_count > 0
    assert paper.entity_kinds == model.entity_kinds
    assert paper.metadata["space"] == "paper" and model.metadata["space"] == "model"
    assert any("model space is empty" in w and "paper space" in w for w in paper.warnings)
    assert np.allclose(paper.bbox, model.bbox)
    assert paper.shape["kind"] == "curves"
    assert np.allclose(extract_features(paper, "v5"), extract_features(model, "v5"))
    # the v1-v4 counts come from the layout too
    assert extract_features(paper, "v4")[0] == model.entity_count


def test_a_drawing_built_in_a_paper_space_layout(parse_pool):
    doc = ezdxf.new("R2010")
    layout = doc.layouts.new("Sheet")
    layout.add_line((0, 0), (100, 0), dxfattribs={"layer": "outline"})
    layout.add_circle((50, 20), 10, dxfattribs={"layer": "holes"})
    layout.add_lwpolyline([(0, 0), (100, 0), (100, 40), (0, 40)], close=True, dxfattribs={"layer": "outline"})
    document = parse_document(_bytes(doc), name="sheet.dxf", pool=parse_pool)
    assert document.entity_kinds == {"LINE": 1, "CIRCLE": 1, "LWPOLYLINE": 1}
    assert document.layers == {"outline": 2, "holes": 1}
    assert any("Sheet" in w for w in document.warnings)
    shape, size = split_v5(extract_features(document, "v5"))
    assert np.any(shape != 0) and size[0] > 0


def test_a_drawing_with_nothing_anywhere_is_still_empty(cad_samples_dir, parse_pool):
    doc = ezdxf.new("R2010")
    with pytest.raises(CadParseError) as caught:
        parse_document(_bytes(doc), name="nothing.dxf", pool=parse_pool)
    assert caught.value.code == "empty_document"
    broken = (cad_samples_dir / "damaged/ezdxf__layout_broken_links.dxf").read_bytes()
    with pytest.raises(CadParseError) as caught:
        parse_document(broken, name="broken.dxf", pool=parse_pool)
    assert caught.value.code == "empty_document"
