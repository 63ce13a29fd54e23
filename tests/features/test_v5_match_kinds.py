"""v5 match kinds and scores on constructed pairs (Django-free: `features.extractors.v5_match`)."""

from __future__ import annotations

import numpy as np
import pytest

from features.descriptors import describe_triangles
from features.extractors import v5_vector
from features.extractors.v5_match import (
    SHAPE_THRESHOLD,
    SIZE_TOLERANCE,
    unit_mismatch,
    v5_matches,
)

from .cad_builders import make_box_triangles


def vector_of(triangles) -> np.ndarray:
    return np.asarray(v5_vector(describe_triangles(triangles)), np.float32)


@pytest.fixture(scope="module")
def parts():
    box = make_box_triangles((10.0, 20.0, 30.0))
    plate = make_box_triangles((100.0, 100.0, 2.0))
    rotated = box @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T + 5.0
    return {
        "box": vector_of(box),
        "box_rotated": vector_of(rotated),
        "box_inches": vector_of(box / 25.4),  # the same part drawn in inches, read as millimetres
        "box_x3": vector_of(box * 3.0),
        "box_a_bit_bigger": vector_of(box * (1 + SIZE_TOLERANCE / 4)),
        "plate": vector_of(plate),
    }


def kinds(query, candidates, **kw):
    found = v5_matches(query, np.vstack(candidates), **kw)
    return [(m.index, m.kind) for m in found], found


def test_kinds_of_constructed_pairs(parts):
    order = ["box_rotated", "box_inches", "box_x3", "box_a_bit_bigger", "plate"]
    listed, found = kinds(parts["box"], [parts[name] for name in order])
    by_name = {order[m.index]: m for m in found}
    assert by_name["box_rotated"].kind == "duplicate" and by_name["box_rotated"].scale_factor == pytest.approx(1.0)
    assert by_name["box_a_bit_bigger"].kind == "duplicate"
    inches = by_name["box_inches"]
    assert inches.kind == "same_shape_other_scale" and inches.unit_mismatch_suspected
    assert inches.scale_factor == pytest.approx(1 / 25.4, rel=1e-4)
    assert by_name["box_x3"].kind == "same_shape_other_scale" and not by_name["box_x3"].unit_mismatch_suspected
    assert by_name["box_x3"].scale_factor == pytest.approx(3.0, rel=1e-4)
    assert by_name["plate"].kind == "similar" and by_name["plate"].shape_distance > SHAPE_THRESHOLD
    # best first: same size before other sizes, the other shape last
    assert [order[i] for i, _ in listed][-1] == "plate"
    assert {order[i] for i, _ in listed[:2]} == {"box_rotated", "box_a_bit_bigger"}


def test_exact_needs_the_same_content(parts):
    _, found = kinds(parts["box"], [parts["box"], parts["box"]], same_content=[True, False])
    assert [m.kind for m in found] == ["exact", "duplicate"]
    assert found[0].score == found[1].score == 1.0  # the same geometry: the same score


def test_match_modes_filter_kinds(parts):
    candidates = [parts[n] for n in ("box_rotated", "box_inches", "plate")]
    assert [k for _, k in kinds(parts["box"], candidates, mode="duplicate")[0]] == ["duplicate"]
    assert [k for _, k in kinds(parts["box"], candidates, mode="shape")[0]] == ["duplicate", "same_shape_other_scale"]
    assert len(kinds(parts["box"], candidates, mode="any")[0]) == 3
    with pytest.raises(ValueError):
        v5_matches(parts["box"], np.vstack(candidates), mode="nearest")


def test_scores_are_in_0_1_and_different_parts_do_not_tie(parts):
    candidates = np.vstack([parts[n] for n in ("box_inches", "box_x3", "box_a_bit_bigger", "plate")])
    found = v5_matches(parts["box"], candidates)
    scores = [m.score for m in found]
    assert all(0.0 < s < 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_unit_factors():
    for factor in (25.4, 10.0, 1000.0, 1 / 25.4, 0.1, 0.001, 25.4 * 1.01):
        assert unit_mismatch(factor), factor
    for factor in (1.0, 2.0, 3.0, 20.0, 100.0, 25.4 * 1.05):
        assert not unit_mismatch(factor), factor


def test_a_part_without_geometry_is_only_ever_similar():
    from features.descriptors import empty_descriptor

    empty = np.asarray(v5_vector(empty_descriptor(source="dxf", reason="no_curves")), np.float32)
    found = v5_matches(empty, np.vstack([empty, empty]))
    assert [m.kind for m in found] == ["similar", "similar"]


def test_mirror_distinct_labels_opposite_handedness_and_same_ignores_it(parts):
    order = ["box_rotated", "box_a_bit_bigger", "box_inches", "box_x3", "plate", "box"]
    candidates = np.vstack([parts[name] for name in order])
    hands = [-1, 1, -1, 0, -1, -1]
    same_content = [False, False, False, False, False, True]

    def kinds_by_name(**kw):
        found = v5_matches(parts["box"], candidates, same_content=same_content, handedness=hands, **kw)
        return {order[m.index]: m.kind for m in found}, found

    default, default_found = kinds_by_name()
    assert default == kinds_by_name(mirror="same", query_handedness=1)[0]
    assert default["box_rotated"] == "duplicate" and default["box_inches"] == "same_shape_other_scale"
    distinct, distinct_found = kinds_by_name(mirror="distinct", query_handedness=1)
    assert distinct == {**default, "box_rotated": "mirror_image", "box_inches": "mirror_image"}
    assert distinct["box"] == "exact" and distinct["plate"] == "similar"  # exact and similar never change
    assert distinct["box_a_bit_bigger"] == "duplicate" and distinct["box_x3"] == "same_shape_other_scale"
    # the ranking and the scores do not change
    assert [(m.index, m.score) for m in distinct_found] == [(m.index, m.score) for m in default_found]
    # an undetermined query cannot tell a mirror image
    assert kinds_by_name(mirror="distinct", query_handedness=0)[0] == default
    # a mirror image is not the same part: match=shape and match=duplicate leave it out
    shape = v5_matches(parts["box"], candidates, handedness=hands, mirror="distinct", query_handedness=1,
                       mode="shape")
    assert {order[m.index] for m in shape} == {"box_a_bit_bigger", "box_x3"}  # box: a mirror image here (no same_content)
    with pytest.raises(ValueError):
        v5_matches(parts["box"], candidates, mirror="left")
