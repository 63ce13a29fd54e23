"""The v5 shape descriptor on real shared samples: determinism, invariance, slots, NeedsSource (Django-free).

Documented tolerances (docs/features.md): under translation, rotation, mirroring, uniform scale, a change of mesh
format or of DXF version, the standardised shape block moves by at most RIGID_TOLERANCE (Euclidean); against
another tessellation of the same B-rep by at most TESSELLATION_TOLERANCE; the size slots move by log10 of the
scale factor exactly (to 1e-6).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np
import pytest

from features.descriptors import SHAPE_NAMES, SIZE_NAMES, describe_segments, describe_triangles
from features.descriptors import shape as shape_module
from features.extractors import NeedsSource, dimension, extract_features, slot_categories, slot_names
from features.extractors.layout import V5_SHAPE_SLOTS, V5_SIZE_SLOTS
from features.extractors.v5 import COMPLETION_RADIUS, SHAPE_DIM, split_v5
from features.parsers.format_parsers import parse_format
from features.parsers.document import CadDocument
from features.parsers.sniff import sniff_format

from .cad_builders import make_binary_stl, make_obj, make_tessellated_stl

RIGID_TOLERANCE = 0.05
TESSELLATION_TOLERANCE = 0.5
MESH_SAMPLES = ["stl/trimesh__featuretype.STL", "stl/build123d__low_poly_benchy.stl", "obj/trimesh__quadknot.obj",
                "stl/trimesh__teapot.stl"]


def parse_path(path):
    data = path.read_bytes()
    return parse_format(sniff_format(data, path.name), data)


def triangles_of(path) -> np.ndarray:
    """The triangles of a mesh sample as the parsers read them (float64)."""
    import trimesh

    if path.suffix.lower() == ".obj":
        from trimesh.exchange.obj import load_obj

        with open(path, "rb") as handle:
            loaded = load_obj(handle, skip_materials=True, split_objects=True, split_groups=True)
        parts = loaded["geometry"].values() if "geometry" in loaded else [loaded]
        triangles = []
        for part in parts:
            faces = np.asarray(part["faces"])
            corners = faces.shape[1]  # quads and n-gons: fan triangulation, as the OBJ parser does
            fan = np.stack([np.zeros(corners - 2, int), np.arange(1, corners - 1), np.arange(2, corners)], axis=1)
            triangles.append(np.asarray(part["vertices"])[faces[:, fan].reshape(-1, 3)])
        return np.concatenate(triangles)
    return np.asarray(trimesh.load(str(path), force="mesh", process=False).triangles)


def shape_block(document) -> np.ndarray:
    return split_v5(extract_features(document, "v5"))[0]


def size_block(document) -> np.ndarray:
    return split_v5(extract_features(document, "v5"))[1]


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_v5_slot_names_and_lengths():
    names = slot_names("v5")
    assert dimension("v5") == len(names) == 36 <= 64
    assert len(set(names)) == len(names)
    assert names[:SHAPE_DIM] == list(V5_SHAPE_SLOTS) == [f"shape_{n}" for n in SHAPE_NAMES]
    assert names[SHAPE_DIM:SHAPE_DIM + 4] == list(V5_SIZE_SLOTS)
    assert len(SIZE_NAMES) == 4 and names[-1] == "norm_completion"
    assert slot_categories("v5") == ["shape"] * 31 + ["size"] * 4 + ["auxiliary"]


@pytest.mark.parametrize("name", ["stl/trimesh__featuretype.STL", "obj/trimesh__groups.obj",
                                  "dxf/cadquery__gear.dxf", "step/trimesh__featuretype.STEP",
                                  "iges/pyiges__example-arcs.iges"])
def test_same_file_gives_the_same_vector_bit_for_bit(cad_samples_dir, name):
    path = cad_samples_dir / name
    first, second = parse_path(path), parse_path(path)
    assert first.shape == second.shape
    assert first.shape["kind"] in ("surface", "curves")
    v1, v2 = extract_features(first, "v5"), extract_features(second, "v5")
    assert np.array_equal(np.asarray(v1, np.float64), np.asarray(v2, np.float64))
    # and from the stored summary (JSON round trip)
    stored = CadDocument.from_dict(json.loads(json.dumps(first.to_dict())))
    assert extract_features(stored, "v5") == v1


def test_every_good_sample_gives_a_finite_v5_vector_of_norm_r(cad_samples_dir):
    for folder in ("dxf", "stl", "obj", "step", "iges"):
        for path in sorted((cad_samples_dir / folder).iterdir()):
            values = np.asarray(extract_features(parse_path(path), "v5"))
            assert values.shape == (36,) and np.isfinite(values).all(), path.name
            assert np.isfinite(values.astype(np.float32)).all()
            assert math.isclose(float(np.linalg.norm(values)), COMPLETION_RADIUS, rel_tol=1e-9), path.name


@pytest.mark.parametrize("name", MESH_SAMPLES)
def test_rotation_mirror_translation_and_scale_leave_the_shape_block(cad_samples_dir, name):
    path = cad_samples_dir / name
    triangles = triangles_of(path)
    base = describe_triangles(triangles)
    base_vector = np.asarray(extract_features(_doc(base), "v5"))
    for seed in range(3):
        moved = triangles @ rotation(seed).T + np.array([1e3, -250.0, 42.0])
        mirrored = moved * np.array([-1.0, 1.0, 1.0])
        for variant in (moved, mirrored):
            shape, size = split_v5(extract_features(_doc(describe_triangles(variant)), "v5"))
            assert np.linalg.norm(shape - split_v5(base_vector)[0]) <= RIGID_TOLERANCE
            assert np.allclose(size, split_v5(base_vector)[1], atol=1e-6)
    for factor in (25.4, 0.1, 1000.0):
        shape, size = split_v5(extract_features(_doc(describe_triangles(triangles * factor)), "v5"))
        assert np.linalg.norm(shape - split_v5(base_vector)[0]) <= RIGID_TOLERANCE
        assert np.allclose(size[:3], split_v5(base_vector)[1][:3] + math.log10(factor), atol=1e-6)


def _doc(shape: dict) -> CadDocument:
    return CadDocument(format="stl", parser="test", shape=shape)


@pytest.mark.parametrize("name", ["stl/trimesh__featuretype.STL", "stl/trimesh__plate_holes.STL"])
def test_stl_and_obj_of_the_same_mesh_agree(cad_samples_dir, name):
    triangles = triangles_of(cad_samples_dir / name)
    as_stl = parse_format("stl", make_binary_stl(triangles.astype(np.float32)))
    vertices, faces = np.unique(triangles.astype(np.float32).reshape(-1, 3), axis=0, return_inverse=True)
    as_obj = parse_format("obj", make_obj(vertices.tolist(), (faces.reshape(-1, 3) + 1).tolist()))
    assert np.linalg.norm(shape_block(as_stl) - shape_block(as_obj)) <= RIGID_TOLERANCE
    assert np.allclose(size_block(as_stl), size_block(as_obj), atol=1e-5)


@pytest.mark.parametrize("name", ["step/trimesh__featuretype.STEP", "step/pythonocc__as1-oc-214.stp",
                                  "iges/pythonocc__example_45_faces.iges"])
def test_a_brep_and_its_own_tessellations_agree(cad_samples_dir, name):
    path = cad_samples_dir / name
    brep = parse_path(path)
    for relative, angular in ((0.005, 0.5), (0.0005, 0.2)):
        mesh = parse_format("stl", make_tessellated_stl(path, relative, angular))
        distance = float(np.linalg.norm(shape_block(brep) - shape_block(mesh)))
        assert distance <= TESSELLATION_TOLERANCE, (relative, distance)
        # both in millimetres: the same size
        assert abs(size_block(brep)[0] - size_block(mesh)[0]) <= math.log10(1.02)


@pytest.mark.parametrize("name", ["dxf/cadquery__gear.dxf", "dxf/trimesh__wrench.dxf", "dxf/ezdxf__ASCII_R12.dxf"])
def test_a_drawing_saved_in_another_dxf_version_agrees(cad_samples_dir, name):
    import ezdxf
    from ezdxf import recover

    original = parse_path(cad_samples_dir / name)
    doc, _ = recover.read(io.BytesIO((cad_samples_dir / name).read_bytes()))
    doc.dxfversion = "AC1027" if doc.dxfversion == "AC1032" else "AC1032"
    stream = io.StringIO()
    doc.write(stream)
    resaved = parse_format("dxf", stream.getvalue().encode(doc.output_encoding))
    assert resaved.metadata["dxfversion"] != original.metadata["dxfversion"]
    assert np.linalg.norm(shape_block(original) - shape_block(resaved)) <= RIGID_TOLERANCE
    assert np.allclose(size_block(original), size_block(resaved), atol=1e-6)
    assert ezdxf  # the module is the one the parser uses


def test_declared_dxf_units_become_millimetres(cad_samples_dir):
    import ezdxf

    def drawing(units: int) -> bytes:
        doc = ezdxf.new("R2010")
        doc.header["$INSUNITS"] = units
        msp = doc.modelspace()
        msp.add_circle((0, 0), 2.0)
        msp.add_lwpolyline([(0, 0), (5, 0), (5, 3), (0, 3)], close=True)
        stream = io.StringIO()
        doc.write(stream)
        return stream.getvalue().encode()

    millimetres = parse_format("dxf", drawing(4))
    inches = parse_format("dxf", drawing(1))
    assert inches.shape["units"] == "in" and not inches.shape["units_assumed"]
    assert np.linalg.norm(shape_block(millimetres) - shape_block(inches)) <= 1e-9
    assert np.allclose(size_block(inches)[:3], size_block(millimetres)[:3] + math.log10(25.4), atol=1e-9)


def test_curves_are_described_like_their_segments():
    circle = np.array([[math.cos(t), math.sin(t), 0.0] for t in np.linspace(0, 2 * math.pi, 721)])
    coarse = describe_segments(circle[:-1:8], np.roll(circle[:-1:8], -1, axis=0), source="test")
    fine = describe_segments(circle[:-1], circle[1:], source="test")
    assert coarse["kind"] == fine["kind"] == "curves"
    assert abs(coarse["shape"]["ev_ratio_2"] - 1.0) < 1e-6
    assert np.linalg.norm(shape_block(_doc(coarse)) - shape_block(_doc(fine))) <= RIGID_TOLERANCE


def test_a_summary_without_a_descriptor_needs_its_source():
    document = CadDocument(format="stl", parser="stl-numpy", entity_count=1, entity_kinds={"FACET": 1},
                           bbox=((0, 0, 0), (1, 1, 1)), facets=1)
    assert "shape" not in document.to_dict()  # summaries stored before v5 stay as they were
    with pytest.raises(NeedsSource) as caught:
        extract_features(document, "v5")
    assert isinstance(caught.value, ValueError) and caught.value.reason == "no_descriptor"
    with pytest.raises(NeedsSource) as caught:
        extract_features(dataclasses.replace(document, shape={"schema": 0}), "v5")
    assert caught.value.reason == "old_descriptor"
    assert len(extract_features(document, "v4")) == 24  # v1-v4 never need the source


def test_hostile_coordinates_give_finite_descriptors():
    box = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=np.float64)
    for scale in (1e-300, 1e300, 3e38):
        values = extract_features(_doc(describe_triangles(box * scale)), "v5")
        assert np.isfinite(np.asarray(values, np.float32)).all()
    degenerate = describe_triangles(np.zeros((4, 3, 3)))
    assert degenerate["kind"] == "empty"
    assert np.isfinite(extract_features(_doc(degenerate), "v5")).all()


def _former_soft_histogram(values, bins, upper):
    width = upper / bins
    t = np.clip(values / width - 0.5, 0.0, bins - 1.0)
    lo = np.floor(t).astype(np.int64)
    frac = t - lo
    hi = np.minimum(lo + 1, bins - 1)
    hist = np.bincount(lo, weights=1.0 - frac, minlength=bins) + np.bincount(hi, weights=frac, minlength=bins)
    return hist[:bins] / max(1, values.size)


def _former_distributions(points, centroid, trace, rng):
    rms_radius = math.sqrt(trace)
    first = rng.integers(0, points.shape[1], shape_module.PAIRS)
    second = rng.integers(0, points.shape[1], shape_module.PAIRS)
    pair = np.zeros(shape_module.PAIRS)
    radial = np.zeros(points.shape[1])
    for axis in range(3):
        row = points[axis]
        delta = row[first] - row[second]
        pair += delta * delta
        offset = row - centroid[axis]
        radial += offset * offset
    pair = np.sqrt(pair) / (math.sqrt(2.0) * rms_radius)
    radial = np.sqrt(radial) / rms_radius
    return (_former_soft_histogram(pair, shape_module.D2_BINS, shape_module.D2_RANGE),
            _former_soft_histogram(radial, shape_module.D1_BINS, shape_module.D1_RANGE))


def test_the_in_place_distributions_are_bit_identical_to_the_former_arithmetic():
    # D2/D1 and the soft histogram are computed in reused buffers (issue 14): every bit as before
    rng = np.random.default_rng(14)
    for case in range(60):
        n = int(rng.integers(1, 6000))
        points = (rng.random((n, 3)) * rng.uniform(0.01, 1000.0)).T  # a transposed view, as _finish passes it
        if case % 2:
            points = np.ascontiguousarray(points)
        if case % 5 == 0:
            points[2] = 0.0  # a flat drawing
        centroid = points.mean(axis=1)
        trace = float(points.var(axis=1).sum())
        seeded = np.random.default_rng(shape_module.SEED)
        pairs = (seeded.integers(0, n, shape_module.PAIRS), seeded.integers(0, n, shape_module.PAIRS))
        ours = shape_module._distributions(points, centroid, trace, pairs)
        former = _former_distributions(points, centroid, trace, np.random.default_rng(shape_module.SEED))
        assert all(np.array_equal(a, b) for a, b in zip(ours, former)), case
        values = np.concatenate([rng.random(n) * rng.uniform(0.1, 5.0), [0.0, 2.4, 100.0], 0.15 * np.arange(17)])
        for bins, upper in ((16, 2.4), (8, 2.4), (1, 1.0)):
            assert np.array_equal(shape_module._soft_histogram(values, bins, upper),
                                  _former_soft_histogram(values, bins, upper)), (case, bins)


def test_a_single_triangle_is_described_without_touching_its_input():
    # one triangle's transposed rows are contiguous already: the descriptor once centred the caller's own array, and
    # failed on a binary STL's read-only buffer ("the stl parser failed: ValueError")
    import struct

    from features.parsers.format_parsers import parse_format

    triangle = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    kept = triangle.copy()
    assert describe_triangles(triangle)["kind"] == "surface"
    assert np.array_equal(triangle, kept)
    read_only = np.frombuffer(triangle.astype(np.float32).tobytes(), dtype=np.float32).reshape(1, 3, 3)
    assert describe_triangles(read_only)["kind"] == "surface"
    one = b"one".ljust(80, b" ") + struct.pack("<I", 1) + struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    summary = parse_format("stl", one).to_dict()
    assert summary["shape"]["kind"] == "surface" and summary["shape"]["elements"] == 1


def test_the_draws_made_once_per_process_are_those_a_new_generator_makes_per_descriptor():
    # a descriptor's draws do not depend on its elements: drawn once, shared read-only, the same numbers as before
    for blocks in (1, 3):  # curves: the positions; triangles: the positions and two barycentric coordinates
        rng = np.random.default_rng(shape_module.SEED)
        former = [rng.random(shape_module.SAMPLES) for _ in range(blocks)]
        former += [rng.integers(0, shape_module.SAMPLES, shape_module.PAIRS) for _ in range(2)]
        drawn = shape_module._seeded_draws(blocks)
        assert len(drawn) == len(former) and all(np.array_equal(a, b) for a, b in zip(drawn, former))
        assert all(not array.flags.writeable for array in drawn)
        assert shape_module._seeded_draws(blocks) is drawn
    rng = np.random.default_rng(3)
    triangles, segments = rng.normal(size=(300, 3, 3)), rng.normal(size=(301, 3))
    first = (describe_triangles(triangles), describe_segments(segments[:-1], segments[1:], source="dxf"))
    again = (describe_triangles(triangles), describe_segments(segments[:-1], segments[1:], source="dxf"))
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)  # nothing wrote into the draws


def test_the_sample_offsets_and_corner_weights_are_the_former_expressions_bit_for_bit():
    rng = np.random.default_rng(shape_module.SEED)
    jitter, u1, r2 = (rng.random(shape_module.SAMPLES) for _ in range(3))
    offsets = shape_module._sample_offsets()
    assert np.array_equal(offsets, np.arange(shape_module.SAMPLES) + jitter) and not offsets.flags.writeable
    weights = shape_module._barycentric_weights()
    assert all(not w.flags.writeable for w in weights)
    corners = np.random.default_rng(9).normal(size=(3, 3, shape_module.SAMPLES)) * 1e3
    r1 = np.sqrt(u1)
    former = (1.0 - r1) * corners[0] + r1 * (1.0 - r2) * corners[1] + r1 * r2 * corners[2]
    now = weights[0] * corners[0] + weights[1] * corners[1] + weights[2] * corners[2]
    assert former.tobytes() == now.tobytes()


def test_descriptors_computed_in_threads_at_once_equal_the_sequential_ones():
    # the PAIRS-long scratch arrays are per thread: concurrent descriptors do not share them
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    inputs = [(rng.random((500 + 300 * k, 3)) * (k + 1), rng.random((500 + 300 * k, 3))) for k in range(8)]
    sequential = [json.dumps(describe_segments(a, b, source="dxf"), sort_keys=True) for a, b in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lambda ab: json.dumps(describe_segments(*ab, source="dxf"), sort_keys=True),
                                       inputs))
            assert concurrent == sequential
