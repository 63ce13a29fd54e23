"""Format detection from content. The file name's extension is only a hint for ambiguous content.

Order: empty → known foreign magics (DWG, PNG, ZIP, ...) → strong CAD signatures (binary DXF, STEP,
IGES, ASCII DXF) → binary STL by the exact length rule → ASCII STL / OBJ by their keywords → STL by
hint (so a truncated binary STL named `.stl` gets the STL parser's precise "truncated" answer).
"""

from __future__ import annotations

import re

from .errors import CadParseError, empty, unsupported
from .stl_layout import binary_stl_length_matches, declared_triangles

BINARY_DXF_SENTINEL = b"AutoCAD Binary DXF\r\n\x1a\x00"

EXTENSION_HINTS = {
    "dxf": "dxf",
    "stl": "stl",
    "step": "step",
    "stp": "step",
    "iges": "iges",
    "igs": "iges",
    "obj": "obj",
    "dwg": "dwg",
}

_FOREIGN_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"%PDF-", "PDF document"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
)

_DWG_RE = re.compile(rb"^AC(1\d{3}|[12]\.\d{1,2})")
_STEP_RE = re.compile(rb"^(\xef\xbb\xbf)?\s*ISO-10303-21\s*;")
_DXF_ASCII_RE = re.compile(rb"^(\xef\xbb\xbf)?\s*(999\s*\r?\n[^\r\n]*\r?\n\s*)*0\s*\r?\n\s*SECTION\s*\r?\n", re.I)
_ASCII_STL_RE = re.compile(rb"^\s*solid\b", re.I)
_OBJ_KEYWORDS = (
    b"v", b"vt", b"vn", b"vp", b"f", b"l", b"p", b"o", b"g", b"s", b"mtllib", b"usemtl",
    b"cstype", b"deg", b"curv", b"curv2", b"surf", b"parm", b"end", b"mg", b"lod", b"bevel",
)


def extension_hint(name: str | None) -> str | None:
    if not name or "." not in name:
        return None
    return EXTENSION_HINTS.get(name.rsplit(".", 1)[1].lower())


def _looks_like_iges(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    return len(first) >= 80 and first[72:73] in (b"S", b"F", b"C") and first[73:80].strip().isdigit()


def _looks_like_obj(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    seen_vertex = False
    checked = 0
    for raw in head.splitlines()[:-1] or head.splitlines():
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        keyword = line.split(None, 1)[0]
        if keyword not in _OBJ_KEYWORDS:
            return False
        seen_vertex = seen_vertex or keyword == b"v"
        checked += 1
        if checked >= 200:
            break
    return seen_vertex


def sniff_format(data: bytes, name: str | None = None) -> str:
    """Return one of dxf, stl, step, iges, obj; raise CadParseError for everything else."""
    if not data:
        raise empty("the file is empty", size=0)
    hint = extension_hint(name)
    head = data[:65536]
    if _DWG_RE.match(head):
        raise unsupported(
            "DWG is not supported: export the drawing as DXF and upload that",
            detected="dwg",
            hint="export as DXF",
        )
    for magic, label in _FOREIGN_MAGICS:
        if head.startswith(magic):
            raise unsupported(f"this is a {label}, not a CAD file", detected=label)
    if head.startswith(BINARY_DXF_SENTINEL) or _DXF_ASCII_RE.match(head):
        return "dxf"
    if _STEP_RE.match(head):
        return "step"
    if _looks_like_iges(head):
        return "iges"
    if binary_stl_length_matches(data):
        return "stl"
    if _ASCII_STL_RE.match(head):
        return "stl"
    if _looks_like_obj(head):
        return "obj"
    if hint == "stl" and declared_triangles(data) is not None:
        return "stl"  # a damaged binary STL: the STL parser explains what is wrong
    raise CadParseError(
        "the content matches no supported CAD format (DXF, STL, STEP, IGES, OBJ)",
        code="unknown_format",
        context={"extension_hint": hint, "size": len(data)},
    )
