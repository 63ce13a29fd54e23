"""The binary STL layout, and the one place its length rule is written.

A binary STL is an 80-byte header, a little-endian uint32 triangle count, then exactly 50 bytes per triangle
(normal, three vertices, attribute), so a file of n declared triangles is 84 + 50·n bytes long. Sniffing, the STL
parser and the thumbnail geometry ask this module (no numpy: sniffing runs in the web process).
"""

from __future__ import annotations

import struct

HEADER_BYTES = 80
TRIANGLES_OFFSET = 84  # the header and the uint32 triangle count
TRIANGLE_BYTES = 50


def declared_triangles(data: bytes) -> int | None:
    """The triangle count written after the header; None when the data is shorter than header + count."""
    if len(data) < TRIANGLES_OFFSET:
        return None
    (count,) = struct.unpack_from("<I", data, HEADER_BYTES)
    return count


def binary_stl_size(triangles: int) -> int:
    """The exact length of a binary STL holding `triangles` triangles."""
    return TRIANGLES_OFFSET + TRIANGLE_BYTES * triangles


def binary_stl_length_matches(data: bytes) -> bool:
    """The strict binary STL rule: 80-byte header + uint32 count + exactly 50 bytes per triangle."""
    count = declared_triangles(data)
    return count is not None and len(data) == binary_stl_size(count)
