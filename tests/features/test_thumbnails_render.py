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


# ---- issue 14: the DXF thumbnail reads the drawing as the parser does, and draws on reused axes ----------------------

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


def test_the_reused_axes_draw_every_thumbnail_a_new_figure_draws(cad_samples_dir, monkeypatch):
    """Drawings, meshes and a cloud of points rendered one after the other on the thread's axes, in two orders, give
    the PNG bytes a new figure gives to each."""
    from features.thumbnails import render

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

    reused = draw_all(items)
    reused_reversed = draw_all(items[::-1])
    monkeypatch.setattr(render, "_figure", render._new_figure)
    new = draw_all(items)
    assert sum(isinstance(png, bytes) for png in new.values()) >= 40
    assert [name for name in new if not (new[name] == reused[name] == reused_reversed[name])] == []
