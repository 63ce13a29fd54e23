"""Render a thumbnail PNG from triangles (3D parts) or polylines (drawings) with matplotlib's Agg backend.

3D parts: at most `MAX_TRIANGLES` triangles (the largest by area when there are more: the silhouette survives,
the work is bounded whatever the file holds), projected orthographically from a fixed isometric-like view,
painted back to front, flat-shaded by the angle to a fixed light. Drawings: at most `MAX_SEGMENTS` segments of
the drawing's own paths in its XY plane, aspect kept. One size (`THUMBNAIL_PIXELS` square), white background.
"""

from __future__ import annotations

import io
import math
import threading

import numpy as np

THUMBNAIL_PIXELS = 256
MAX_TRIANGLES = 20_000
MAX_SEGMENTS = 50_000
_DPI = 100
_ELEVATION, _AZIMUTH = math.radians(30.0), math.radians(-55.0)
_LIGHT = np.array([0.35, 0.45, 0.82])
_BASE = np.array([0.30, 0.52, 0.78])
_LINE = "#1f3b57"


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # the object API: no pyplot, no global state, Agg via print_png

    size = THUMBNAIL_PIXELS / _DPI
    figure = Figure(figsize=(size, size), dpi=_DPI, facecolor="white")
    axes = figure.add_axes((0.03, 0.03, 0.94, 0.94))
    axes.set_axis_off()
    axes.set_aspect("equal")
    FigureCanvasAgg(figure)
    return figure, axes


_blank = threading.local()


def _figure():
    """The figure and axes to draw on, as `_new_figure` makes them. Made once per thread (in a parse worker: once per
    process) and emptied before each render: building the axes (ticks, spines, grid, all hidden) was about 60 % of a
    thumbnail's rendering. What a render changes is what it draws (its collection, removed here), the data limits
    (ignored again here, as on new axes) and the view limits (each render sets its own), so every PNG is the one a
    new figure gives, byte for byte (`tests/features/test_thumbnails_render.py`)."""
    made = getattr(_blank, "figure", None)
    if made is None:
        made = _blank.figure = _new_figure()
    figure, axes = made
    for artist in list(axes.collections):
        artist.remove()
    axes.ignore_existing_data_limits = True
    return figure, axes


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.canvas.print_png(buffer)
    return buffer.getvalue()


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


def _limits(axes, xy: np.ndarray) -> None:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre, half = (lo + hi) / 2.0, max(float((hi - lo).max()) / 2.0, 1e-12) * 1.04
    axes.set_xlim(centre[0] - half, centre[0] + half)
    axes.set_ylim(centre[1] - half, centre[1] + half)


def render_triangles(triangles: np.ndarray) -> bytes:
    from matplotlib.collections import PolyCollection

    triangles = decimate_triangles(_finite(np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3)))
    if not len(triangles):
        raise ValueError("no finite triangle to draw")
    centred = triangles - triangles.reshape(-1, 3).mean(axis=0)
    view = centred @ _view_matrix().T  # (n, 3, 3) in screen coordinates
    normals = np.cross(view[:, 1] - view[:, 0], view[:, 2] - view[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    light = _LIGHT / np.linalg.norm(_LIGHT)
    intensity = 0.35 + 0.65 * np.abs(normals @ light)  # both sides lit: open meshes and flipped normals read too
    order = np.argsort(view[:, :, 2].mean(axis=1))  # painter's algorithm: far first
    colours = np.clip(_BASE[None, :] * intensity[:, None] + 0.12, 0.0, 1.0)[order]
    figure, axes = _figure()
    axes.add_collection(PolyCollection(view[order, :, :2], facecolors=colours, edgecolors=colours,
                                       linewidths=0.2, antialiaseds=False))
    _limits(axes, view[:, :, :2].reshape(-1, 2))
    return _png(figure)


def render_polylines(polylines: list[np.ndarray], *, view_3d: bool = False) -> bytes:
    from matplotlib.collections import LineCollection

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
    if view_3d:
        matrix = _view_matrix()
        segments = [line @ matrix.T for line in segments]
    flat = [line[:, :2] for line in segments]
    figure, axes = _figure()
    axes.add_collection(LineCollection(flat, colors=_LINE, linewidths=0.6))
    _limits(axes, np.concatenate(flat))
    return _png(figure)


def _render_points(points: np.ndarray, *, view_3d: bool) -> bytes:
    if view_3d:
        points = points @ _view_matrix().T
    figure, axes = _figure()
    axes.scatter(points[:, 0], points[:, 1], s=12, c=_LINE)
    _limits(axes, points[:, :2])
    return _png(figure)


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
