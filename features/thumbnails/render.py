"""Render a thumbnail PNG from triangles (3D parts) or polylines (drawings) with Pillow's rasteriser (no GPU, no
display, no plotting library).

3D parts: at most `MAX_TRIANGLES` triangles (the largest by area when there are more: the silhouette survives,
the work is bounded whatever the file holds), projected orthographically from a fixed isometric-like view,
painted back to front, flat-shaded by the angle to a fixed light, not antialiased (a face's edge is drawn in its own
colour, so neighbouring faces leave no gap). Drawings: at most `MAX_SEGMENTS` segments of the drawing's own paths in
its XY plane, aspect kept, drawn at three times the size and averaged down (antialiased). One size (`THUMBNAIL_PIXELS`
square), white background, the drawing centred in a 3 % margin.

The picture is an 8-bit palette PNG: a part's shades are `_SHADES` steps of one colour, a drawing's pixels are blends
of its line colour with white; a palette PNG is a third of an RGB one to compress. Rendering holds no state between
calls: the same geometry gives the same bytes whatever was drawn before.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

THUMBNAIL_PIXELS = 256
MAX_TRIANGLES = 20_000
MAX_SEGMENTS = 50_000
_MARGIN = 0.03  # of the side, on each side of the drawing
_PADDING = 1.04  # the drawing's half-extent grown by 4 %
_SUPERSAMPLE = 3  # drawings: drawn at this multiple of the size, then averaged down
_LINE_WIDTH = 3  # pixels at the supersampled size: one pixel in the picture
_POINT_RADIUS = 8  # pixels at the supersampled size (a file of points only)
_ELEVATION, _AZIMUTH = math.radians(30.0), math.radians(-55.0)
_LIGHT = np.array([0.35, 0.45, 0.82])
_BASE = np.array([0.30, 0.52, 0.78])
_AMBIENT, _DIFFUSE, _LIFT = 0.35, 0.65, 0.12  # a face's colour: clip(_BASE * (ambient + diffuse * |cos|) + lift)
_SHADES = 255  # palette entries of a part's shading; entry 0 is the white background
_WHITE = np.array([255.0, 255.0, 255.0])
_LINE = np.array([0x1F, 0x3B, 0x57], dtype=np.float64)


def _palette(colours: np.ndarray) -> list[int]:
    return np.rint(colours).astype(np.uint8).reshape(-1).tolist()


_SHADE_PALETTE = _palette(np.vstack([_WHITE, np.clip(
    _BASE[None, :] * (_AMBIENT + _DIFFUSE * np.linspace(0.0, 1.0, _SHADES))[:, None] + _LIFT, 0.0, 1.0) * 255.0]))
_LINE_PALETTE = _palette(_WHITE + (_LINE - _WHITE) * (np.arange(256) / 255.0)[:, None])  # entry i: i/255 of the line


def _view_matrix() -> np.ndarray:
    ca, sa, ce, se = math.cos(_AZIMUTH), math.sin(_AZIMUTH), math.cos(_ELEVATION), math.sin(_ELEVATION)
    right = np.array([ca, sa, 0.0])
    towards = np.array([-sa * ce, ca * ce, se])  # from the part to the viewer
    up = np.cross(towards, right)
    return np.stack([right, up, towards])  # rows: screen x, screen y, depth


def _finite(array: np.ndarray) -> np.ndarray:
    flat = array.reshape(len(array), -1)
    return array[np.isfinite(flat).all(axis=1)]


def decimate_triangles(triangles: np.ndarray, limit: int = MAX_TRIANGLES) -> np.ndarray:
    """At most `limit` triangles: the largest by area (deterministic)."""
    if len(triangles) <= limit:
        return triangles
    area = np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    keep = np.argpartition(area, len(area) - limit)[-limit:]
    return triangles[np.sort(keep)]


def to_pixels(xy: np.ndarray, side: int) -> np.ndarray:
    """Points in the drawing's plane (`(..., 2)`, y up) as pixel coordinates of a `side`-pixel square (y down):
    the square of the drawing's larger extent, padded, fills the picture inside its margin, centred."""
    flat = xy.reshape(-1, 2)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        centre, half = lo / 2.0 + hi / 2.0, max(float((hi - lo).max()) / 2.0, 1e-12) * _PADDING
        scale = side * (1.0 - 2.0 * _MARGIN) / (2.0 * half)
    if not (np.isfinite(centre).all() and math.isfinite(half) and scale > 0.0):
        raise ValueError("the drawing's extent is too large to draw")
    pixels = np.empty_like(xy)
    pixels[..., 0] = side * _MARGIN + (xy[..., 0] - (centre[0] - half)) * scale
    pixels[..., 1] = side * _MARGIN + ((centre[1] + half) - xy[..., 1]) * scale
    return pixels


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render_triangles(triangles: np.ndarray) -> bytes:
    triangles = decimate_triangles(_finite(np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3)))
    if not len(triangles):
        raise ValueError("no finite triangle to draw")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing view is refused by `to_pixels`
        centred = triangles - triangles.reshape(-1, 3).mean(axis=0)
        view = centred @ _view_matrix().T  # (n, 3, 3) in screen coordinates
        corners = to_pixels(view[:, :, :2], THUMBNAIL_PIXELS)
    unit = view / max(float(np.abs(view).max()), 1e-300)  # the normals' products cannot overflow
    normals = np.cross(unit[:, 1] - unit[:, 0], unit[:, 2] - unit[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    light = _LIGHT / np.linalg.norm(_LIGHT)
    facing = np.abs(normals @ light)  # both sides lit: open meshes and flipped normals read too
    shades = 1 + np.rint(facing * (_SHADES - 1)).astype(np.int64)  # palette entries
    order = np.argsort(view[:, :, 2].mean(axis=1), kind="stable")  # painter's algorithm: far first
    image = Image.new("P", (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS), 0)
    image.putpalette(_SHADE_PALETTE)
    polygon = ImageDraw.Draw(image).polygon
    for points, shade in zip(corners[order].reshape(-1, 6).tolist(), shades[order].tolist()):
        polygon(points, fill=shade, outline=shade)
    return _png(image)


def render_polylines(polylines: list[np.ndarray], *, view_3d: bool = False) -> bytes:
    segments = []
    total = 0
    for line in polylines:
        line = _finite(np.asarray(line, dtype=np.float64).reshape(-1, 3))
        if len(line) < 2:
            continue
        if total + len(line) - 1 > MAX_SEGMENTS:  # bounded: the rest of a huge drawing is not drawn
            line = line[: MAX_SEGMENTS - total + 1]
        segments.append(line)
        total += len(line) - 1
        if total >= MAX_SEGMENTS:
            break
    if not segments:
        points = [_finite(np.asarray(line, dtype=np.float64).reshape(-1, 3)) for line in polylines]
        points = [p for p in points if len(p)]
        if not points:
            raise ValueError("no path to draw")
        return _render_points(np.concatenate(points)[:MAX_SEGMENTS], view_3d=view_3d)
    pixels = np.split(_drawing_pixels(np.concatenate(segments), view_3d=view_3d),
                      np.cumsum([len(line) for line in segments])[:-1])
    coverage, draw = _coverage()
    for line in pixels:
        draw.line(line.reshape(-1).tolist(), fill=255, width=_LINE_WIDTH)
    return _line_picture(coverage)


def _render_points(points: np.ndarray, *, view_3d: bool) -> bytes:
    coverage, draw = _coverage()
    for x, y in _drawing_pixels(points, view_3d=view_3d).tolist():
        draw.ellipse((x - _POINT_RADIUS, y - _POINT_RADIUS, x + _POINT_RADIUS, y + _POINT_RADIUS), fill=255)
    return _line_picture(coverage)


def _drawing_pixels(points: np.ndarray, *, view_3d: bool) -> np.ndarray:
    """A drawing's (m, 3) points as pixel coordinates of its supersampled mask: its XY plane, or the parts' 3D view."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing view is refused by `to_pixels`
        if view_3d:
            points = points @ _view_matrix().T
        return to_pixels(points[:, :2], THUMBNAIL_PIXELS * _SUPERSAMPLE)


def _coverage() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A supersampled mask to draw a drawing's paths on: 0 where nothing is drawn, 255 where the line is."""
    side = THUMBNAIL_PIXELS * _SUPERSAMPLE
    image = Image.new("L", (side, side), 0)
    return image, ImageDraw.Draw(image)


def _line_picture(coverage: Image.Image) -> bytes:
    """The mask averaged down to the picture's size, each pixel's coverage the palette entry of that blend of the
    line's colour with white."""
    picture = coverage.reduce(_SUPERSAMPLE)
    picture.putpalette(_LINE_PALETTE)
    return _png(picture)


def render_thumbnail(fmt: str, data: bytes) -> bytes:
    """The PNG thumbnail of one original of format `fmt` (raises CadParseError/ValueError when nothing draws)."""
    from features.thumbnails import geometry

    if fmt == "stl":
        return render_triangles(geometry.stl_triangles(data))
    if fmt == "obj":
        return render_triangles(geometry.obj_triangles(data))
    if fmt in ("step", "iges"):
        triangles, edges = geometry.occt_geometry(fmt, data)
        return render_triangles(triangles) if len(triangles) else render_polylines(edges, view_3d=True)
    if fmt == "dxf":
        return render_polylines(geometry.dxf_polylines(data))
    raise ValueError(f"no thumbnail renderer for format {fmt!r}")
