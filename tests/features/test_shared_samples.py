"""Every shared CAD sample goes through the real entry point (sniffing by content, the worker pool).

Good files must parse, with the bounding box equal to the one the parsing library computes when called
directly; `damaged/` files parse or get a 4xx-kind error; the DWG gets `unsupported_format`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.extractors import FEATURE_VERSIONS, dimension, extract_features
from features.parsers.dispatch import parse_document
from features.parsers.errors import CadParseError
from features.parsers.sniff import sniff_format

from .reference_geometry import reference_bbox

FOLDER_FORMAT = {"dxf": "dxf", "stl": "stl", "step": "step", "iges": "iges", "obj": "obj"}


def _files(root, folder):
    return sorted(p for p in (root / folder).iterdir() if p.is_file())


@pytest.mark.parametrize("folder", sorted(FOLDER_FORMAT))
def test_every_good_sample_parses_with_the_library_bbox(cad_samples_dir, parse_pool, folder):
    files = _files(cad_samples_dir, folder)
    assert files, f"no samples in {folder}"
    problems = []
    for path in files:
        data = path.read_bytes()
        # the format is found from content alone: no file name is given
        assert sniff_format(data, None) == FOLDER_FORMAT[folder], path.name
        document = parse_document(data, name=path.name, pool=parse_pool)
        assert document.format == FOLDER_FORMAT[folder]
        assert document.entity_count > 0
        assert document.entity_count == sum(document.entity_kinds.values())
        expected = reference_bbox(path, document.format)
        if expected is None:
            assert document.bbox is None, path.name
        else:
            tolerance = 1e-6 * max(1.0, max(abs(v) for v in expected[0] + expected[1]))
            got = np.array(document.bbox[0] + document.bbox[1])
            if not np.allclose(got, np.array(expected[0] + expected[1]), atol=tolerance, rtol=1e-6):
                problems.append((path.name, document.bbox, expected))
        for version in FEATURE_VERSIONS:
            values = extract_features(document, version)
            assert len(values) == dimension(version)
            assert all(math.isfinite(v) for v in values) and np.isfinite(np.float32(values)).all()
    assert not problems, problems


def test_damaged_samples_parse_or_get_a_client_error(cad_samples_dir, parse_pool):
    outcomes = {}
    for path in _files(cad_samples_dir, "damaged"):
        try:
            document = parse_document(path.read_bytes(), name=path.name, pool=parse_pool)
            outcomes[path.name] = "parsed"
            assert document.entity_count == sum(document.entity_kinds.values())
        except CadParseError as exc:
            assert exc.kind in ("corrupt", "unsupported"), (path.name, exc)
            assert exc.code not in ("parse_crashed", "parse_timeout"), (path.name, exc)
            outcomes[path.name] = exc.code
    assert outcomes, "no damaged samples"
    # at least one of the damaged files is refused; the pool answered every one of them
    assert any(outcome != "parsed" for outcome in outcomes.values()), outcomes


def test_dwg_sample_is_refused_with_a_dxf_hint(cad_samples_dir, parse_pool):
    for path in _files(cad_samples_dir, "dwg"):
        with pytest.raises(CadParseError) as caught:
            parse_document(path.read_bytes(), name=path.name, pool=parse_pool)
        assert caught.value.code == "unsupported_format"
        assert "export" in caught.value.message and "DXF" in caught.value.message
        assert caught.value.kind == "unsupported"


def test_same_part_in_dxf_versions_has_the_same_counts(cad_samples_dir, parse_pool):
    """ae.r2000b (binary, counted by ezdxf) and ae.r2013a (ASCII, counted by the scan): same drawing."""
    binary = parse_document((cad_samples_dir / "dxf/trimesh__ae.r2000b.dxf").read_bytes(), name=None, pool=parse_pool)
    ascii_ = parse_document((cad_samples_dir / "dxf/trimesh__ae.r2013a.dxf").read_bytes(), name=None, pool=parse_pool)
    assert binary.metadata["encoding"] == "binary" and ascii_.metadata["encoding"] == "ascii"
    assert binary.entity_kinds == ascii_.entity_kinds
    assert binary.bbox[0] + binary.bbox[1] == pytest.approx(ascii_.bbox[0] + ascii_.bbox[1])
