"""Format sniffing by content: the extension is only a hint; DWG and foreign files are refused."""

from __future__ import annotations

import pytest

from features.parsers.errors import CadParseError
from features.parsers.sniff import EXTENSION_HINTS, sniff_format

from .cad_builders import PNG_BYTES, ZIP_BYTES, make_binary_stl, make_box_triangles, make_dxf_lines, make_obj


@pytest.mark.parametrize("extension", sorted(EXTENSION_HINTS))
@pytest.mark.parametrize("payload", [PNG_BYTES, ZIP_BYTES], ids=["png", "zip"])
def test_png_or_zip_renamed_to_a_cad_extension_is_unsupported(extension, payload):
    with pytest.raises(CadParseError) as caught:
        sniff_format(payload, f"part.{extension}")
    assert caught.value.code == "unsupported_format"
    assert caught.value.kind == "unsupported"


def test_dwg_is_refused_with_a_hint_to_export_dxf():
    with pytest.raises(CadParseError) as caught:
        sniff_format(b"AC1015" + b"\x00" * 200, "drawing.dxf")
    assert caught.value.code == "unsupported_format"
    assert caught.value.context["hint"] == "export as DXF"


def test_content_wins_over_the_extension():
    assert sniff_format(make_dxf_lines(2), "part.stl") == "dxf"
    assert sniff_format(make_binary_stl(make_box_triangles()), "part.dxf") == "stl"
    assert sniff_format(make_obj([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [(1, 2, 3)]), "part.step") == "obj"


def test_unknown_text_is_an_unknown_format():
    with pytest.raises(CadParseError) as caught:
        sniff_format(b"hello, this is not CAD\n" * 10, "notes.txt")
    assert caught.value.code == "unknown_format"


def test_empty_upload_is_an_empty_document():
    with pytest.raises(CadParseError) as caught:
        sniff_format(b"", "a.step")
    assert caught.value.code == "empty_document"
