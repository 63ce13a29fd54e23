"""The handedness of the v5 shape descriptor on real shared samples (Django-free).

`handedness` (+1/-1, 0 when undetermined; docs/features.md, "Handedness") must survive what the shape block
survives (rotation, translation, uniform scale, float32 storage, STL <-> OBJ, another tessellation of the same
B-rep, the same part exported as STEP and as STL) and flip under a reflection; parts with a mirror plane and flat
drawings (their mirror image is themselves, or a rotation of them) answer 0.
"""

from __future__ import annotations


import numpy as np
import pytest

from features.descriptors import describe_segments, describe_triangles
from features.extractors import extract_features
from features.parsers.format_parsers import parse_format

from .cad_builders import make_binary_stl, make_obj, make_tessellated_stl
from .test_shape_descriptor_v5 import (
    TESSELLATION_TOLERANCE,
    _doc,
    parse_path,
    rotation,
    shape_block,
    size_block,
    triangles_of,
)

# asymmetric (chiral) mesh samples and their handedness
CHIRAL_MESHES = {"stl/trimesh__box.STL": 1, "stl/trimesh__octagonal_pocket.stl": -1}
REFLECTIONS = (np.diag([-1.0, 1.0, 1.0]), np.diag([1.0, -1.0, 1.0]), np.diag([1.0, 1.0, -1.0]), -np.eye(3))


@pytest.mark.parametrize("name", sorted(CHIRAL_MESHES))
def test_rotation_translation_scale_and_storage_keep_it_a_reflection_flips_it(cad_samples_dir, name):
    triangles = triangles_of(cad_samples_dir / name)
    expected = CHIRAL_MESHES[name]
    assert describe_triangles(triangles)["handedness"] == expected
    assert describe_triangles(triangles.astype(np.float32))["handedness"] == expected
    for seed in range(4):
        turn = rotation(seed)
        for factor in (1.0, 25.4, 0.1):
            moved = (triangles @ turn.T) * factor + np.array([1e3, -250.0, 42.0])
            assert describe_triangles(moved)["handedness"] == expected, (seed, factor)
        for reflection in REFLECTIONS:
            mirrored = triangles @ (turn @ reflection).T
            assert describe_triangles(mirrored)["handedness"] == -expected, (seed, reflection.tolist())


@pytest.mark.parametrize("name", sorted(CHIRAL_MESHES))
def test_stl_obj_and_a_mirrored_stl_file(cad_samples_dir, name):
    triangles = triangles_of(cad_samples_dir / name).astype(np.float32)
    expected = CHIRAL_MESHES[name]
    original = parse_path(cad_samples_dir / name)
    as_stl = parse_format("stl", make_binary_stl(triangles))
    vertices, faces = np.unique(triangles.reshape(-1, 3), axis=0, return_inverse=True)
    as_obj = parse_format("obj", make_obj(vertices.tolist(), (faces.reshape(-1, 3) + 1).tolist()))
    assert original.shape["handedness"] == as_stl.shape["handedness"] == as_obj.shape["handedness"] == expected
    # the mirror image as a file: x negated, vertex order reversed so that the normals still point outwards
    mirrored = triangles[:, ::-1, :] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    as_mirror = parse_format("stl", make_binary_stl(mirrored))
    assert as_mirror.shape["handedness"] == -expected
    # the mirror image is the same shape for the 36 v5 slots (the reversed vertex order moves the seeded sample
    # points, as another tessellation does): the handedness is carried beside the vector
    assert np.linalg.norm(shape_block(as_mirror) - shape_block(as_stl)) <= TESSELLATION_TOLERANCE
    assert np.allclose(size_block(as_mirror), size_block(as_stl), atol=1e-6)


@pytest.mark.parametrize(("name", "expected"), [("step/trimesh__box_sides.STEP", 1), ("iges/occt__bearing.iges", 1)])
def test_a_brep_and_its_own_tessellations_share_it(cad_samples_dir, name, expected):
    path = cad_samples_dir / name
    assert parse_path(path).shape["handedness"] == expected
    for relative, angular in ((0.005, 0.5), (0.0005, 0.2)):
        data = make_tessellated_stl(path, relative, angular)
        assert parse_format("stl", data).shape["handedness"] == expected, relative


def test_the_same_part_as_step_and_as_stl_shares_it(cad_samples_dir):
    # trimesh's box.STL is the tessellation of box_sides.STEP
    step = parse_path(cad_samples_dir / "step/trimesh__box_sides.STEP").shape
    stl = parse_path(cad_samples_dir / "stl/trimesh__box.STL").shape
    assert step["handedness"] == stl["handedness"] == 1


@pytest.mark.parametrize("name", ["stl/trimesh__featuretype.STL", "step/trimesh__featuretype.STEP",
                                  "obj/trimesh__cube.OBJ", "stl/trimesh__unit_sphere.STL",
                                  "stl/build123d__low_poly_benchy.stl", "dxf/trimesh__wrench.dxf",
                                  "dxf/cadquery__gear.dxf"])
def test_parts_with_a_mirror_plane_and_flat_drawings_are_undetermined(cad_samples_dir, name):
    document = parse_path(cad_samples_dir / name)
    assert document.shape["kind"] in ("surface", "curves")
    assert document.shape["handedness"] == 0


def test_curves_flip_too():
    # a 3D polyline with no symmetry: a reflection flips it, a rotation keeps it
    points = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 1.0, 0.0], [4.0, 1.0, 2.5], [3.0, 3.0, 2.5]])
    starts, ends = points[:-1], points[1:]
    base = describe_segments(starts, ends, source="test")["handedness"]
    assert base in (1, -1)
    turn = rotation(3)
    assert describe_segments(starts @ turn.T, ends @ turn.T, source="test")["handedness"] == base
    flip = np.diag([1.0, -1.0, 1.0])
    assert describe_segments(starts @ flip, ends @ flip, source="test")["handedness"] == -base


def test_a_descriptor_stored_before_handedness_gives_the_same_vector(cad_samples_dir):
    shape = parse_path(cad_samples_dir / "stl/trimesh__box.STL").shape
    older = {key: value for key, value in shape.items() if key != "handedness"}
    assert extract_features(_doc(older), "v5") == extract_features(_doc(shape), "v5")


def test_the_third_moment_polynomial_is_the_sum_of_the_ten_monomials():
    from features.descriptors.shape import _h3_consuming

    a, b, c = np.random.default_rng(4).normal(size=(3, 50))
    brute = sum(a**i * b**j * c ** (3 - i - j) for i in range(4) for j in range(4 - i))
    assert np.allclose(_h3_consuming(a.copy(), b.copy(), c), brute, rtol=1e-12, atol=1e-12)
