"""CAD files built in memory for the stress scenarios: binary STL boxes of known size."""

from __future__ import annotations

import struct

_BOX_FACES = (
    # (normal, (three corner indices)) for the 12 triangles of a box; corners indexed by bits (x, y, z).
    ((0, 0, -1), (0, 2, 3)), ((0, 0, -1), (0, 3, 1)),
    ((0, 0, 1), (4, 5, 7)), ((0, 0, 1), (4, 7, 6)),
    ((0, -1, 0), (0, 1, 5)), ((0, -1, 0), (0, 5, 4)),
    ((0, 1, 0), (2, 6, 7)), ((0, 1, 0), (2, 7, 3)),
    ((-1, 0, 0), (0, 4, 6)), ((-1, 0, 0), (0, 6, 2)),
    ((1, 0, 0), (1, 3, 7)), ((1, 0, 0), (1, 7, 5)),
)


def binary_stl_box(width: float, height: float, depth: float, *, name: str = "stress box") -> bytes:
    """A closed box ``width`` x ``height`` x ``depth`` as a binary STL (12 facets, 684 bytes)."""
    if min(width, height, depth) <= 0:
        raise ValueError("box dimensions must be positive")
    corners = [((i & 1) * width, ((i >> 1) & 1) * height, ((i >> 2) & 1) * depth) for i in range(8)]
    header = name.encode("ascii")[:80].ljust(80, b" ")
    body = bytearray(header + struct.pack("<I", len(_BOX_FACES)))
    for normal, (a, b, c) in _BOX_FACES:
        body += struct.pack("<12fH", *normal, *corners[a], *corners[b], *corners[c], 0)
    return bytes(body)


def box_variants(count: int) -> list[tuple[str, bytes]]:
    """``count`` distinct boxes (distinct content, so distinct sha256), named for upload."""
    return [(f"stress-box-{i}.stl", binary_stl_box(10.0 + i, 20.0 + 2 * i, 5.0 + 0.5 * i)) for i in range(count)]
