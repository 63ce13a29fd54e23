"""DXF: the fast scan against ezdxf, units, and hostile cases 7-12 of hostile-inputs.md."""

from __future__ import annotations

import io
import time
from collections import Counter

import ezdxf
import pytest
from ezdxf import recover

from features.parsers.dxf import parse_dxf, scan_dxf
from features.parsers.errors import CadParseError
from features.parsers.sniff import sniff_format

from .cad_builders import (
    make_dxf_block_chain,
    make_dxf_fan_out,
    make_dxf_lines,
    make_dxf_minsert,
    make_dxf_mutual_inserts,
    make_dxf_self_insert,
)


def test_scan_counts_match_ezdxf_on_every_ascii_sample(cad_samples_dir):
    checked = 0
    for path in sorted((cad_samples_dir / "dxf").iterdir()):
        data = path.read_bytes()
        if data.startswith(b"AutoCAD Binary DXF"):
            continue
        doc, auditor = recover.read(io.BytesIO(data))
        if auditor.fixes:
            continue  # recover changed the document: the scan and the repaired document may differ
        msp = doc.modelspace()
        scan = scan_dxf(data)
        assert scan.kinds == Counter(e.dxftype() for e in msp), path.name
        assert scan.layers == Counter(e.dxf.layer for e in msp), path.name
        checked += 1
    assert checked >= 10


def test_lines_with_layers_and_units():
    data = make_dxf_lines(30, layers=3)
    doc = parse_dxf(data)
    assert doc.entity_kinds == {"LINE": 30}
    assert doc.layers == {"L0": 10, "L1": 10, "L2": 10}
    assert doc.bbox == ((0.0, 0.0, 0.0), (29.0, 10.0, 0.0))
    assert doc.units == "m"  # ezdxf.new() writes $INSUNITS = 6
    assert doc.metadata["counted_by"] == "scan"


def test_binary_dxf_is_counted_by_ezdxf():
    data = make_dxf_lines(12, fmt="bin")
    assert sniff_format(data, None) == "dxf"
    doc = parse_dxf(data)
    assert doc.metadata["encoding"] == "binary" and doc.metadata["counted_by"] == "ezdxf"
    assert doc.entity_count == 12


def test_paper_space_entities_are_not_counted():
    doc = ezdxf.new("R2010")
    doc.modelspace().add_line((0, 0), (1, 1))
    doc.layout("Layout1").add_circle((0, 0), 5)
    stream = io.StringIO()
    doc.write(stream)
    parsed = parse_dxf(stream.getvalue().encode())
    assert parsed.entity_kinds == {"LINE": 1}


def test_text_only_drawing_is_not_an_error_but_empty_modelspace_is():
    empty = ezdxf.new("R2010")
    stream = io.StringIO()
    empty.write(stream)
    with pytest.raises(CadParseError) as caught:
        parse_dxf(stream.getvalue().encode())
    assert caught.value.code == "empty_document"


# -- hostile-inputs.md -----------------------------------------------------------------------------

def test_hostile_7_self_inserting_block_is_cyclic():
    with pytest.raises(CadParseError) as caught:
        parse_dxf(make_dxf_self_insert())
    assert caught.value.code == "block_cycle"
    assert caught.value.context["block"] == "SELF"


def test_hostile_8_blocks_inserting_each_other_are_cyclic():
    with pytest.raises(CadParseError) as caught:
        parse_dxf(make_dxf_mutual_inserts())
    assert caught.value.code == "block_cycle"


def _refused_in(data: bytes) -> tuple[CadParseError, float]:
    """The error ``parse_dxf`` refuses ``data`` with, and the seconds it took to refuse."""
    started = time.perf_counter()
    with pytest.raises(CadParseError) as caught:
        parse_dxf(data)
    return caught.value, time.perf_counter() - started


def test_hostile_9_chain_of_5000_blocks_is_too_deep_without_recursion_error():
    error, seconds = _refused_in(make_dxf_block_chain(5000))
    assert error.code == "block_depth_exceeded"
    assert seconds < 5.0


def test_a_legitimate_nesting_below_the_limit_parses():
    doc = parse_dxf(make_dxf_block_chain(10))
    assert doc.metadata["expanded_entities"] == 10
    assert doc.entity_kinds == {"INSERT": 1}


def test_hostile_10_billion_entity_fan_out_trips_the_budget_fast():
    data = make_dxf_fan_out(levels=9, fan=10)
    assert len(data) < 16 * 1024
    error, seconds = _refused_in(data)
    assert error.code == "entity_budget_exceeded"
    assert seconds < 1.0


def test_hostile_11_minsert_32767_by_32767_trips_the_budget():
    error, seconds = _refused_in(make_dxf_minsert(32767, 32767))
    assert error.code == "entity_budget_exceeded"
    assert seconds < 1.0


def test_small_minsert_is_expanded_within_budget():
    doc = parse_dxf(make_dxf_minsert(3, 4))
    assert doc.metadata["expanded_entities"] == 12
    assert doc.bbox == ((0.0, 0.0, 0.0), (4.0, 2.0, 0.0))


def test_hostile_12_ascii_dxf_cut_in_half_is_salvaged_or_refused():
    full = make_dxf_lines(400)
    half = full[: len(full) // 2]
    try:
        doc = parse_dxf(half)
    except CadParseError as exc:
        assert exc.code in ("parse_failed", "empty_document")
    else:
        assert 0 < doc.entity_count < 400
        assert any("truncated" in w or "scan found" in w for w in doc.warnings)


def test_hostile_12_binary_dxf_cut_to_a_third_is_refused():
    full = make_dxf_lines(400, fmt="bin")
    with pytest.raises(CadParseError) as caught:
        parse_dxf(full[: len(full) // 3])
    assert caught.value.code == "parse_failed"


def test_many_sections_scan_in_linear_time():
    data = b"0\nSECTION\n2\nJUNK\n" * 200_000 + b"0\nEOF\n"
    started = time.perf_counter()
    scan = scan_dxf(data)
    assert len(scan.sections) == 200_000 and scan.entity_count == 0
    assert time.perf_counter() - started < 5.0
