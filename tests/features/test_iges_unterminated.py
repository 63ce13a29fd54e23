"""A valid IGES file written without line terminators (its fixed 80-column records back to back) is accepted."""

from __future__ import annotations

import numpy as np
import pytest

from features.extractors import extract_features
from features.parsers.dispatch import parse_document
from features.parsers.step_iges import iges_records


def unterminated(data: bytes) -> bytes:
    records = data.splitlines()
    assert all(len(r) == 80 for r in records)  # the shared samples are fixed-width
    return b"".join(records)


@pytest.mark.parametrize("name", ["iges/pythonocc__example_45_faces.iges", "iges/pyiges__example-arcs.iges"])
def test_records_back_to_back_parse_like_the_original(cad_samples_dir, parse_pool, name):
    data = (cad_samples_dir / name).read_bytes()
    joined = unterminated(data)
    assert b"\n" not in joined and b"\r" not in joined
    original = parse_document(data, name="part.igs", pool=parse_pool)
    accepted = parse_document(joined, name=None, pool=parse_pool)  # sniffed from content alone
    assert accepted.format == "iges"
    assert accepted.entity_kinds == original.entity_kinds
    assert np.allclose(accepted.bbox, original.bbox)
    assert any("80-column records" in w for w in accepted.warnings)
    assert extract_features(accepted, "v5") == extract_features(original, "v5")


def test_record_splitting_leaves_terminated_files_alone(cad_samples_dir):
    data = (cad_samples_dir / "iges/pyiges__sample.igs").read_bytes()
    assert iges_records(data) == (data, False)
    text, changed = iges_records(unterminated(data))
    assert changed and text.splitlines() == data.splitlines()
