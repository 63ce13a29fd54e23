"""STEP and IGES through OCP: measures, and hostile cases 13-15 of hostile-inputs.md."""

from __future__ import annotations

import pytest

from features.parsers.dispatch import parse_document
from features.parsers.errors import CadParseError
from features.parsers.sniff import sniff_format
from features.parsers.step_iges import parse_occt

from .cad_builders import (
    make_iges_bad_directory_pointers,
    make_step_cyclic_references,
    make_step_empty_tessellated_shell,
    make_step_nested_parentheses,
)


def test_cube_measures(cad_samples_dir):
    doc = parse_occt("step", (cad_samples_dir / "step/pythonocc__test_ocaf.stp").read_bytes())
    assert doc.entity_kinds == {"SOLID": 1, "SHELL": 1, "FACE": 6, "EDGE": 12, "VERTEX": 8}
    assert doc.volume == pytest.approx(1_000_000.0)
    assert doc.area == pytest.approx(60_000.0)
    assert doc.units == "mm"


def test_wire_only_iges_has_no_volume_or_area(cad_samples_dir):
    doc = parse_occt("iges", (cad_samples_dir / "iges/pyiges__example-arcs.iges").read_bytes())
    assert doc.solids == 0 and doc.faces == 0 and doc.edges > 0
    assert doc.volume is None and doc.area is None


def test_hostile_13_nested_parentheses_kill_the_worker_and_the_pool_carries_on(cad_samples_dir, parse_pool):
    data = make_step_nested_parentheses(200_000)
    assert sniff_format(data, None) == "step"
    crashes_before = parse_pool.status()["crashes"]
    pids_before = set(parse_pool.status()["pids"])
    with pytest.raises(CadParseError) as caught:
        parse_document(data, name="evil.step", pool=parse_pool)
    assert caught.value.code == "parse_crashed"
    assert caught.value.kind == "corrupt"
    status = parse_pool.status()
    assert status["crashes"] == crashes_before + 1
    assert status["alive"] == status["workers"]
    assert set(status["pids"]) != pids_before  # the dead worker was replaced
    # the service keeps answering: a good file parses right after
    good = parse_document((cad_samples_dir / "step/pythonocc__test_ocaf.stp").read_bytes(), name=None, pool=parse_pool)
    assert good.solids == 1


def test_hostile_14_cyclic_references_are_no_geometry_not_a_crash(parse_pool):
    with pytest.raises(CadParseError) as caught:
        parse_document(make_step_cyclic_references(), name="cyclic.step", pool=parse_pool)
    assert caught.value.code == "empty_document"


def test_hostile_14_empty_tessellated_shell_is_no_geometry(parse_pool):
    with pytest.raises(CadParseError) as caught:
        parse_document(make_step_empty_tessellated_shell(), name="tess.step", pool=parse_pool)
    assert caught.value.code == "empty_document"


def test_hostile_15_iges_directory_pointers_out_of_range_are_corrupt(parse_pool):
    data = make_iges_bad_directory_pointers()
    assert sniff_format(data, None) == "iges"
    with pytest.raises(CadParseError) as caught:
        parse_document(data, name="bad.igs", pool=parse_pool)
    assert caught.value.code == "parse_failed"
    assert caught.value.context["directory_entries"] == 3


def test_step_without_data_is_refused(parse_pool):
    with pytest.raises(CadParseError) as caught:
        parse_document(b"ISO-10303-21;\nHEADER;\nENDSEC;\n", name="x.step", pool=parse_pool)
    assert caught.value.code in ("parse_failed", "empty_document")
