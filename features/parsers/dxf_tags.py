"""DXF tags as ezdxf loads them from text, in one pass (Django-free).

`ezdxf.read` turns the lines of an ASCII DXF into tags with two chained generators, `ascii_tags_loader` (pairs of
lines, universal newlines, comments skipped, nothing after EOF) and `tag_compiler` (coordinates joined into
vertices, values cast by their group code), one Python call per line and per tag. `compiled_tags` gives the very
same tags from one loop over the split lines (about a third less time); the parser feeds them to ezdxf's document
loader (`Drawing.from_tags`) and to the entities-only read. The tests compare both on every shared sample and on
edge cases; where ezdxf would raise, this returns None and the caller lets ezdxf's own loader raise.
"""

from __future__ import annotations


def compiled_tags(text: str) -> list | None:
    """`list(tag_compiler(ascii_tags_loader(io.StringIO(text, newline=None))))`: the tags `ezdxf.read` loads from
    `text` (universal newlines, comments skipped, nothing after EOF, coordinates joined into vertices, values
    cast by group code), in one pass over the lines instead of two chained generators. None where ezdxf's tag
    compiler would raise (a group code or a number that does not parse, a coordinate without its y) or would drop
    a tag at the very end (a point cut short)."""
    from ezdxf.lldxf.types import BINARY_DATA, POINT_CODES, TYPE_TABLE, DXFBinaryTag, DXFTag, DXFVertex

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    complete = len(lines) - 1  # the text after the last newline is not a line readline() would complete...
    if lines[-1]:
        complete += 1  # ... unless it has characters: readline() returns it at the end of the stream
    pairs = complete // 2
    values = lines[1 : 2 * pairs : 2]
    try:
        codes = [int(code) for code in lines[0 : 2 * pairs : 2]]
    except ValueError:
        codes = None  # a code line that does not parse: where it is decides (ezdxf stops reading at EOF)
    eof = _eof_position(codes, values) if codes is not None else None
    if codes is None or (eof is None and pairs * 2 < complete):
        codes, values = _codes_up_to_eof(lines, complete)
        if codes is None:
            return None
    elif eof is not None:
        del codes[eof + 1:], values[eof + 1:]
    if 999 in codes:  # comments
        kept = [k for k, code in enumerate(codes) if code != 999]
        codes, values = [codes[k] for k in kept], [values[k] for k in kept]
    tags: list = []
    append = tags.append
    count = len(codes)
    k = 0
    get_type = TYPE_TABLE.get
    try:
        while k < count:
            code = codes[k]
            if code in POINT_CODES:
                if k + 2 >= count or codes[k + 1] != code + 10:
                    return None
                if codes[k + 2] == code + 20:
                    tag = DXFVertex(code, (float(values[k]), float(values[k + 1]), float(values[k + 2])))
                    k += 3
                else:
                    tag = DXFVertex(code, (float(values[k]), float(values[k + 1])))
                    k += 2
            elif code in BINARY_DATA:
                tag = DXFBinaryTag.from_string(code, values[k])
                k += 1
            else:
                value = values[k] if code else values[k].strip()
                cast = get_type(code, str)
                try:
                    tag = DXFTag(code, cast(value))
                except ValueError:
                    if cast is not int:
                        return None
                    tag = DXFTag(code, int(float(value)))  # ProE writes integers as floats, ezdxf takes them
                k += 1
            append(tag)
    except ValueError:  # a number that does not parse, odd hex digits
        return None
    return tags


def _eof_position(codes: list[int], values: list[str]) -> int | None:
    """The position of the first (0, EOF) pair, where ezdxf's tag loader stops, or None."""
    start = 0
    while True:
        try:
            k = values.index("EOF", start)
        except ValueError:
            return None
        if codes[k] == 0:
            return k
        start = k + 1


def _codes_up_to_eof(lines: list[str], complete: int) -> tuple[list | None, list]:
    """Codes and values pair by pair, as ezdxf's tag loader reads them up to EOF: (None, []) where it raises."""
    codes: list[int] = []
    values: list[str] = []
    try:
        for k in range(0, complete - 1, 2):
            code = int(lines[k])
            codes.append(code)
            values.append(lines[k + 1])
            if code == 0 and lines[k + 1] == "EOF":
                return codes, values
        if complete % 2:
            int(lines[complete - 1])  # a last code line without its value: ezdxf still parses the code
    except ValueError:
        return None, []
    return codes, values


def compiled_groups(text: str) -> list | None:
    """`list(group_tags(tag_compiler(ascii_tags_loader(io.StringIO(text, newline=None)))))`: `compiled_tags`
    grouped at each structure tag (code 0), the tags before the first one dropped."""
    from ezdxf.lldxf.tags import Tags

    tags = compiled_tags(text)
    if tags is None:
        return None
    groups: list = []
    group = None
    for tag in tags:
        if tag.code == 0:
            group = Tags([tag])
            groups.append(group)
        elif group is not None:
            group.append(tag)
    return groups
