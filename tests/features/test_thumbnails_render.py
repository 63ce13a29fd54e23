"""The Django-free thumbnail renderer: every shared good sample draws to a PNG (in a pool worker, like the service),
hostile sizes stay bounded, and nothing drawable is a parse error rather than a crash."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from features.parsers.errors import CadParseError
from features.parsers.sniff import sniff_format
from features.thumbnails.render import (
    MAX_TRIANGLES,
    THUMBNAIL_PIXELS,
    decimate_triangles,
    render_polylines,
    render_thumbnail,
    render_triangles,
)

from .cad_builders import make_binary_stl, make_box_triangles, make_dxf_lines

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def picture(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS)
    return image


def drawn_fraction(image: Image.Image) -> float:
    pixels = np.asarray(image)
    return float((pixels.sum(axis=2) < 3 * 245).mean())  # not white


def test_box_is_drawn_in_the_middle_of_a_white_square():
    image = picture(render_triangles(make_box_triangles()))
    assert 0.05 < drawn_fraction(image) < 0.9
    assert tuple(np.asarray(image)[0, 0]) == (255, 255, 255)


def test_drawing_paths_are_drawn():
    image = picture(render_thumbnail("dxf", make_dxf_lines(20)))
    assert drawn_fraction(image) > 0.001


def test_decimation_keeps_the_largest_triangles_and_bounds_the_count():
    rng = np.random.default_rng(0)
    many = rng.normal(size=(MAX_TRIANGLES * 3, 3, 3))
    kept = decimate_triangles(many)
    assert len(kept) == MAX_TRIANGLES
    areas = np.linalg.norm(np.cross(many[:, 1] - many[:, 0], many[:, 2] - many[:, 0]), axis=1)
    kept_areas = np.linalg.norm(np.cross(kept[:, 1] - kept[:, 0], kept[:, 2] - kept[:, 0]), axis=1)
    assert kept_areas.min() >= np.sort(areas)[-MAX_TRIANGLES] - 1e-12


def test_a_huge_mesh_renders_bounded(parse_pool):
    tiles = np.concatenate([make_box_triangles(origin=(i, 0, 0)) for i in range(10_000)])  # 120 000 triangles
    picture(parse_pool.render("stl", make_binary_stl(tiles)))


def test_nothing_to_draw_is_an_error_not_a_picture():
    with pytest.raises(ValueError):
        render_triangles(np.full((3, 3, 3), np.nan))
    with pytest.raises(ValueError):
        render_polylines([np.full((2, 3), np.inf)])


def test_a_render_failure_in_the_pool_is_a_parse_error(parse_pool):
    with pytest.raises(CadParseError):
        parse_pool.render("stl", b"solid nothing\nendsolid nothing\n")


def test_every_shared_good_sample_renders_in_the_pool(parse_pool, cad_samples_dir):
    rendered, failed = 0, []
    for folder in ("dxf", "stl", "step", "iges", "obj"):
        for path in sorted(p for p in (cad_samples_dir / folder).iterdir() if p.is_file()):
            data = path.read_bytes()
            try:
                fmt = sniff_format(data, path.name)
                parse_pool.parse(fmt, data)
            except CadParseError:
                continue  # a sample the parser refuses is never stored, so never rendered
            try:
                picture(parse_pool.render(fmt, data))
                rendered += 1
            except CadParseError as exc:
                failed.append((path.name, exc.code, exc.message))
    assert rendered >= 40
    # the one good sample with nothing drawable: a drawing holding only an ACIS 3DSOLID (no curves, no extents)
    assert failed == [("ezdxf__torus_r2000.dxf", "empty_document", "the DXF has no extents")]


# ---- issue 14: the DXF thumbnail reads the drawing as the parser does ----------------------

def _dxf_files(root):
    files = sorted(p for p in (root / "dxf").iterdir() if p.is_file())
    return files + sorted(p for p in (root / "damaged").iterdir() if p.suffix.lower() == ".dxf")


def _former_dxf_polylines(data: bytes) -> list[np.ndarray]:
    """What `geometry.dxf_polylines` drew from before issue 14's fourth round: the whole document loaded, its extents
    from `ezdxf.bbox`, the drawing decomposed a second time for its polylines."""
    from ezdxf import bbox as ezbbox

    from features.descriptors.dxf_curves import layout_polylines
    from features.parsers.dxf import _load, scan_dxf

    doc, _notes, _reader = _load(data, scan_dxf(data), "auto")
    entities = list(doc.modelspace())
    if not entities:
        entities = [e for layout in doc.layouts if not layout.is_modelspace for e in layout]
    if not entities:
        raise CadParseError("the DXF holds no entities", code="empty_document")
    extents = ezbbox.extents(entities, fast=True)
    if not extents.has_data:
        raise CadParseError("the DXF has no extents", code="empty_document")
    box = (tuple(extents.extmin), tuple(extents.extmax))
    return layout_polylines(entities, box) or layout_polylines(entities, box, skip_annotations=False)


def _polylines_or_error(read, data: bytes):
    try:
        return read(data)
    except CadParseError as exc:
        return exc.code


@pytest.mark.parametrize("limit", [None, 3])
def test_dxf_thumbnail_polylines_are_those_of_the_whole_document(cad_samples_dir, monkeypatch, limit):
    """Every shared and damaged DXF: the same polylines, to the last bit (or the same refusal), whether the drawing is
    read from its ENTITIES section alone, decomposed once, or streamed twice (a drawing beyond the shared limit)."""
    from features.parsers import dxf as dxf_parser
    from features.thumbnails import geometry

    if limit is not None:
        monkeypatch.setattr(dxf_parser, "SHARED_PRIMITIVES_LIMIT", limit)
    compared, drawn = [], 0
    for path in _dxf_files(cad_samples_dir):
        data = path.read_bytes()
        got = _polylines_or_error(geometry.dxf_polylines, data)
        want = _polylines_or_error(_former_dxf_polylines, data)
        if isinstance(want, str) or isinstance(got, str):
            compared.append((path.name, got == want))
            continue
        same = len(got) == len(want) and all(
            a.shape == b.shape and np.array_equal(a, b, equal_nan=True) for a, b in zip(got, want))
        compared.append((path.name, same))
        drawn += 1
    assert drawn >= 20
    assert [name for name, same in compared if not same] == []


def test_a_drawing_the_parser_reads_from_its_entities_is_drawn_without_a_document(monkeypatch):
    from features.parsers import dxf as dxf_parser
    from features.thumbnails import geometry

    data = make_dxf_lines(20)
    want = _former_dxf_polylines(data)

    def no_document(*args, **kwargs):
        raise AssertionError("the document was loaded")

    monkeypatch.setattr(dxf_parser, "_load", no_document)
    got = geometry.dxf_polylines(data)
    assert len(got) == len(want) == 20 and all(np.array_equal(a, b) for a, b in zip(got, want))


def test_a_render_holds_no_state_between_calls(cad_samples_dir):
    """Drawings, meshes and a cloud of points rendered one after the other, in two orders, give the same bytes."""
    items = [(path.name, "dxf", path.read_bytes()) for path in sorted((cad_samples_dir / "dxf").iterdir())]
    for folder in ("stl", "obj"):
        items += [(path.name, folder, path.read_bytes()) for path in sorted((cad_samples_dir / folder).iterdir())]
    points = [np.array([[0.0, 0.0, 0.0]]), np.array([[5.0, 1.0, 0.0]]), np.array([[2.0, 7.0, 0.0]])]

    def draw_all(order):
        pictures = {}
        for name, fmt, data in order:
            try:
                pictures[name] = render_thumbnail(fmt, data)
            except (CadParseError, ValueError) as exc:
                pictures[name] = type(exc).__name__
            pictures[name + " points"] = render_polylines(points)
        return pictures

    forward = draw_all(items)
    backward = draw_all(items[::-1])
    assert sum(isinstance(png, bytes) for png in forward.values()) >= 40
    assert [name for name in forward if forward[name] != backward[name]] == []


# ---- the picture: a palette PNG, shaded faces, antialiased lines, centred ---------------------------------------------

def _colours(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P"  # an 8-bit palette PNG
    return np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)


def test_a_part_is_flat_shaded_by_each_face_angle_to_the_light():
    png = render_triangles(make_box_triangles())
    faces = [tuple(c) for c in _colours(png) if tuple(c) != (255, 255, 255)]
    assert len(faces) == 3  # a box shows three faces, each lit at its own angle, each in one colour
    assert all(c[2] > c[0] for c in faces)  # shades of the part's blue


def test_a_drawing_is_antialiased_in_its_line_colour():
    png = render_polylines([np.array([[0.0, 0.0, 0.0], [10.0, 3.0, 0.0]])])
    colours = _colours(png).astype(float)
    assert len(colours) > 5  # blends along the slanted edge, not only ink and paper
    line, white = np.array([0x1F, 0x3B, 0x57], dtype=float), np.full(3, 255.0)
    share = (white - colours) @ (white - line) / ((white - line) @ (white - line))
    blended = white + np.outer(share, line - white)
    assert np.abs(blended - colours).max() <= 1.0  # every pixel lies between white and the line's colour
    assert share.max() > 0.5


def test_the_drawing_fills_the_square_inside_its_margin_centred():
    square = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    pixels = np.asarray(picture(render_polylines([square])))
    rows, cols = np.nonzero(pixels.sum(axis=2) < 3 * 245)
    side = THUMBNAIL_PIXELS
    expected = side * 0.03 + side * 0.94 * (0.04 / 2.08)  # the 3 % margin, then the 4 % padding of the extent
    for low, high in ((rows.min(), rows.max()), (cols.min(), cols.max())):
        assert abs(low - expected) <= 1.5 and abs((side - 1 - high) - expected) <= 1.5


def test_an_extent_too_large_to_draw_is_an_error_not_a_picture():
    """Finite coordinates whose extent (or view) overflows a float: nothing sensible to scale, so no picture."""
    huge = np.array([[[1.7e308, -1.7e308, 0.0], [-1.7e308, 1.7e308, 0.0], [0.0, 0.0, 0.0]]])
    with pytest.raises(ValueError):
        render_triangles(huge)  # its view's x overflows
    with pytest.raises(ValueError):
        render_polylines([huge[0]])  # its extent overflows
