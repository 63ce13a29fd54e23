"""Thumbnails of stored parts (Django-free): geometry of an original, rendered to a small palette PNG with Pillow's
rasteriser (no GPU, no display). Run inside a parse-pool worker (`ParsePool.render`): the same memory limit, wall
timeout and kill as a parse."""

from features.thumbnails.render import MAX_SEGMENTS, MAX_TRIANGLES, THUMBNAIL_PIXELS, render_thumbnail

__all__ = ["MAX_SEGMENTS", "MAX_TRIANGLES", "THUMBNAIL_PIXELS", "render_thumbnail"]
