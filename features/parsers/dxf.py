"""DXF: ezdxf for the document (recover for ASCII, readfile for binary), a fast group-code scan for counts,
kinds and layers of ASCII files, and a block-graph guard before anything expands block inserts.

The guard walks the block graph (INSERT, MINSERT rows x columns, DIMENSION geometry blocks) iteratively,
without recursion: a cycle, a nesting deeper than `max_depth` or an expansion beyond `entity_budget`
virtual entities is refused before ezdxf's bounding box code would expand anything.
"""

from __future__ import annotations

import bisect
import functools
import gc
import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from features.descriptors import describe_segments, empty_descriptor, mm_per_unit, polylines_to_segments

from .document import CadDocument
from .errors import CadParseError, corrupt, empty
from .sniff import BINARY_DXF_SENTINEL

PARSER = "ezdxf"
DEFAULT_ENTITY_BUDGET = 500_000
DEFAULT_MAX_BLOCK_DEPTH = 64

# Sub-entities that ezdxf folds into their owner (POLYLINE vertices, INSERT attributes).
_SUB_ENTITIES = frozenset({b"VERTEX", b"SEQEND", b"ATTRIB"})

INSUNITS = {
    1: "in", 2: "ft", 3: "mi", 4: "mm", 5: "cm", 6: "m", 7: "km", 8: "uin", 9: "mil", 10: "yd",
    11: "angstrom", 12: "nm", 13: "um", 14: "dm", 15: "dam", 16: "hm", 17: "Gm", 18: "AU",
    19: "ly", 20: "pc",
}


Graph = dict[str, tuple[int, list[tuple[str, int]]]]  # block -> (direct entities, [(child, multiplicity)])


@dataclass
class DxfScan:
    """What the group-code scan finds: model-space kinds and layers, and the block-insert graph."""

    kinds: Counter = field(default_factory=Counter)
    layers: Counter = field(default_factory=Counter)
    sections: list[str] = field(default_factory=list)
    blocks: Graph = field(default_factory=dict)
    modelspace_refs: list[tuple[str, int]] = field(default_factory=list)
    has_eof: bool = False

    @property
    def entity_count(self) -> int:
        return sum(self.kinds.values())


def is_binary_dxf(data: bytes) -> bool:
    return data.startswith(BINARY_DXF_SENTINEL)


_INSERT_KINDS = frozenset({b"INSERT", b"MINSERT"})
_DIMENSION_KINDS = frozenset({b"DIMENSION", b"ARC_DIMENSION", b"LARGE_RADIAL_DIMENSION"})


def _first_rows(rows: np.ndarray, begins: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """For each entity [begin, limit), the first row of `rows` (sorted) strictly inside it, else -1."""
    if rows.size == 0:
        return np.full(begins.shape, -1, dtype=np.int64)
    j = np.searchsorted(rows, begins, side="right")
    candidate = rows[np.minimum(j, rows.size - 1)]
    return np.where((j < rows.size) & (candidate < limits), candidate, -1)


def _int_value(raw: bytes | None, default: int = 1) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


_ACADVER_RE = re.compile(rb"\$ACADVER[ \t]*\r?\n[ \t]*1[ \t]*\r?\n([^\r\n]*)")
_CODEPAGE_RE = re.compile(rb"\$DWGCODEPAGE[ \t]*\r?\n[ \t]*3[ \t]*\r?\n([^\r\n]*)")


def _text_decoder(data: bytes):
    """Decoder of DXF strings: UTF-8 from R2007 (AC1021) on, else the declared code page; \\U+XXXX escapes."""
    from ezdxf.lldxf.encoding import decode_dxf_unicode, has_dxf_unicode
    from ezdxf.tools.codepage import toencoding

    head = data[:65536]
    version = _ACADVER_RE.search(head)
    codepage = _CODEPAGE_RE.search(head)
    encoding = "utf-8"
    if not (version and version.group(1).strip() >= b"AC1021"):
        encoding = toencoding(codepage.group(1).strip().decode("ascii", "replace")) if codepage else "cp1252"

    @functools.lru_cache(maxsize=4096)
    def decode(raw: bytes) -> str:
        text = raw.decode(encoding, "replace")
        return decode_dxf_unicode(text) if has_dxf_unicode(text) else text

    return decode


class _Rows:
    """The group-code lines of an ASCII DXF located with numpy on the raw bytes (no object per line).

    Lines are found from the newline positions; pair i is (code line 2i, value line 2i+1). Each code line's
    trailing digits (after CR/blanks) are read as its group code in a few vectorised passes; a line without
    digits gets -1. Only the values that are needed are sliced out of the buffer.
    """

    def __init__(self, data: bytes):
        self.data = data
        buf = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buf == 0x0A)
        if data and not data.endswith(b"\n"):
            ends = np.append(ends, len(data))
        pairs = ends.size // 2
        self.pairs = pairs
        # int32 positions (uploads are far below 2 GiB): half the memory traffic of int64
        code_end = ends[0 : 2 * pairs : 2].astype(np.int32)
        self.value_start = code_end + 1
        self.value_end = ends[1 : 2 * pairs : 2].astype(np.int32)
        if pairs:
            for blank in (0x0D, 0x20):  # a trailing CR, then a trailing blank
                code_end -= (code_end > 0) & (buf[np.maximum(code_end - 1, 0)] == blank)
        # Read up to four trailing digits backwards; the newline before a line is a non-digit, so a code
        # never runs into the previous line. Lines without a trailing digit get -1.
        codes = np.full(pairs, -1, dtype=np.int32)
        reading = np.ones(pairs, dtype=bool)
        for position in range(4):
            at = code_end - 1 - position
            char = buf[np.maximum(at, 0)]
            reading &= (at >= 0) & (char >= 0x30) & (char <= 0x39)
            if position == 0:
                codes[reading] = 0
            codes += np.where(reading, (char.astype(np.int32) - 0x30) * 10**position, 0)
        self.codes = codes
        self._by_code: dict[int, np.ndarray] = {}

    def rows(self, code: int) -> np.ndarray:
        if code not in self._by_code:
            self._by_code[code] = np.flatnonzero(self.codes == code)
        return self._by_code[code]

    def values(self, rows) -> list[bytes]:
        rows = np.asarray(rows, dtype=np.int64)
        data = self.data
        return [data[a:b].strip() for a, b in zip(self.value_start[rows].tolist(), self.value_end[rows].tolist())]

    def first(self, code: int, begins: np.ndarray, limits: np.ndarray) -> list[bytes | None]:
        picked = _first_rows(self.rows(code), begins, limits)
        found = self.values(picked[picked >= 0])
        out: list[bytes | None] = [None] * len(picked)
        for index, value in zip(np.flatnonzero(picked >= 0).tolist(), found):
            out[index] = value
        return out


def _refs(kinds: list[bytes], begins: np.ndarray, limits: np.ndarray, rows: _Rows, decode) -> dict[int, list]:
    """Block references by entity position: INSERT/MINSERT (name, rows x columns), DIMENSION (geometry block)."""
    out: dict[int, list] = {}
    picks = [k for k, kind in enumerate(kinds) if kind in _INSERT_KINDS or kind in _DIMENSION_KINDS]
    if not picks:
        return out
    index = np.array(picks, dtype=np.int64)
    b, l = begins[index], limits[index]
    names, columns, row_counts = rows.first(2, b, l), rows.first(70, b, l), rows.first(71, b, l)
    for n, k in enumerate(picks):
        if names[n] is None:
            continue
        multiplicity = 1
        if kinds[k] in _INSERT_KINDS:
            multiplicity = max(1, _int_value(columns[n])) * max(1, _int_value(row_counts[n]))
        out[k] = [(decode(names[n]).upper(), multiplicity)]
    return out


def scan_dxf(data: bytes) -> DxfScan:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived bytes objects: cyclic GC passes would dominate the scan
    try:
        return _scan(data)
    finally:
        if gc_was_enabled:
            gc.enable()


def _scan(data: bytes) -> DxfScan:
    """Fast scan of an ASCII DXF as pairs of lines (group code, value), vectorised with numpy.

    Counts model-space entities of the ENTITIES section by kind and by layer (group code 8); entities
    flagged paper space (group code 67 = 1) and sub-entities (VERTEX, SEQEND, ATTRIB) are not counted.
    Also records the block graph of the BLOCKS section (INSERT/MINSERT/DIMENSION references) so that
    cycles, depth and expansion are checked before ezdxf loads anything. A misaligned or corrupt file gives
    counts that disagree with ezdxf's, and `parse_dxf` then uses ezdxf's counts (with a warning).
    """
    scan = DxfScan()
    rows = _Rows(data)
    pairs = rows.pairs
    decode = _text_decoder(data)
    zero_rows = rows.rows(0)
    if zero_rows.size == 0:
        return scan
    zero_values = rows.values(zero_rows)
    limits_all = np.append(zero_rows[1:], pairs)

    # sections: (name, first entity position, end position) in zero-group positions
    sections: list[tuple[bytes, int, int]] = []
    section_starts = [k for k, value in enumerate(zero_values) if value == b"SECTION"]
    section_ends = [k for k, value in enumerate(zero_values) if value == b"ENDSEC"]
    eof = next((k for k, value in enumerate(zero_values) if value == b"EOF"), None)
    scan.has_eof = eof is not None
    names = rows.first(2, zero_rows[section_starts], limits_all[section_starts]) if section_starts else []
    stop = eof if eof is not None else len(zero_values)
    for index, (start, name) in enumerate(zip(section_starts, names)):
        # a section ends at its ENDSEC, or at the next SECTION / EOF when ENDSEC is missing: sections never
        # overlap, so the scan stays linear whatever a hostile file repeats
        following = bisect.bisect_right(section_ends, start)
        candidates = [stop]
        if following < len(section_ends):
            candidates.append(section_ends[following])
        if index + 1 < len(section_starts):
            candidates.append(section_starts[index + 1])
        end = min(candidates)
        sections.append((name or b"", start + 1, end))
        scan.sections.append((name or b"").decode("ascii", "replace"))

    for name, first, end in sections:
        if end <= first:
            continue
        kinds = zero_values[first:end]
        begins, limits = zero_rows[first:end], limits_all[first:end]
        refs = _refs(kinds, begins, limits, rows, decode)
        if name == b"ENTITIES":
            flagged = rows.rows(67)
            flagged = flagged[[value == b"1" for value in rows.values(flagged)]] if flagged.size else flagged
            paper = _first_rows(flagged, begins, limits) >= 0
            layer_values = rows.first(8, begins, limits)
            counted_kinds, counted_layers = [], []
            for k, kind in enumerate(kinds):
                if kind in _SUB_ENTITIES or paper[k]:
                    continue
                counted_kinds.append(kind)
                counted_layers.append(layer_values[k] if layer_values[k] is not None else b"0")
                if k in refs:
                    scan.modelspace_refs.extend(refs[k])
            scan.kinds = Counter({kind.decode("ascii", "replace"): n for kind, n in Counter(counted_kinds).items()})
            for raw, count in Counter(counted_layers).items():  # decode each distinct layer name once
                scan.layers[decode(raw)] += count
        elif name == b"BLOCKS":
            block_names = rows.first(2, begins, limits)
            block_name: str | None = None
            for k, kind in enumerate(kinds):
                if kind == b"BLOCK":
                    block_name = decode(block_names[k] or b"").upper()
                    scan.blocks.setdefault(block_name, (0, []))
                elif kind == b"ENDBLK":
                    block_name = None
                elif block_name is not None and kind not in _SUB_ENTITIES:
                    direct, children = scan.blocks[block_name]
                    if k in refs:
                        children.extend(refs[k])
                    else:
                        scan.blocks[block_name] = (direct + 1, children)
    return scan


def _block_children(entity) -> list[tuple[str, int]]:
    kind = entity.dxftype()
    if kind == "INSERT":
        rows = max(1, int(entity.dxf.get("row_count", 1) or 1))
        cols = max(1, int(entity.dxf.get("column_count", 1) or 1))
        return [(entity.dxf.get("name", "").upper(), rows * cols)]
    if kind in ("DIMENSION", "ARC_DIMENSION", "LARGE_RADIAL_DIMENSION"):
        name = entity.dxf.get("geometry")
        return [(name.upper(), 1)] if name else []
    return []


def document_block_graph(doc) -> tuple[Graph, int, list[tuple[str, int]]]:
    """The same graph as `scan_dxf` builds, read from a loaded ezdxf document (binary DXF)."""
    graph: Graph = {}
    for block in doc.blocks:
        direct = 0
        children: list[tuple[str, int]] = []
        for entity in block:
            refs = _block_children(entity)
            if refs:
                children.extend(refs)
            else:
                direct += 1
        graph[block.name.upper()] = (direct, children)
    msp_direct = 0
    msp_refs: list[tuple[str, int]] = []
    for entity in doc.modelspace():
        refs = _block_children(entity)
        if refs:
            msp_refs.extend(refs)
        else:
            msp_direct += 1
    return graph, msp_direct, msp_refs


def check_block_graph(
    graph: Graph,
    modelspace_direct: int,
    modelspace_refs: list[tuple[str, int]],
    *,
    entity_budget: int,
    max_depth: int,
) -> int:
    """Refuse cyclic, too deep or too large block structures; return the expanded model-space size.

    Iterative post-order DFS with memoisation: each block is expanded once, in O(blocks + inserts),
    and no Python recursion is involved whatever the nesting.
    """
    sizes: dict[str, int] = {}
    depth: dict[str, int] = {}
    on_path: set[str] = set()
    cap = entity_budget + 1
    for root in graph:
        if root in sizes:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        on_path.add(root)
        while stack:
            name, child_index = stack[-1]
            children = graph[name][1]
            if child_index < len(children):
                stack[-1] = (name, child_index + 1)
                child = children[child_index][0]
                if child not in graph or child in sizes:
                    continue
                if child in on_path:
                    raise CadParseError(
                        f"block {child!r} inserts itself (directly or through other blocks)",
                        code="block_cycle",
                        context={"block": child[:100]},
                    )
                if len(stack) >= max_depth:
                    raise CadParseError(
                        f"blocks are nested deeper than {max_depth} levels",
                        code="block_depth_exceeded",
                        context={"max_depth": max_depth, "block": child[:100]},
                    )
                on_path.add(child)
                stack.append((child, 0))
                continue
            stack.pop()
            on_path.discard(name)
            total = graph[name][0]
            deepest = 0
            for child, mult in children:
                if child in sizes:
                    total = min(cap, total + mult * sizes[child])
                    deepest = max(deepest, depth[child] + 1)
            if deepest > max_depth:
                raise CadParseError(
                    f"blocks are nested deeper than {max_depth} levels",
                    code="block_depth_exceeded",
                    context={"max_depth": max_depth, "block": name[:100]},
                )
            sizes[name] = total
            depth[name] = deepest

    expanded = modelspace_direct
    for child, mult in modelspace_refs:
        expanded = min(cap, expanded + mult * sizes.get(child, 0))
    if expanded > entity_budget:
        raise CadParseError(
            f"block inserts expand to more than {entity_budget} entities",
            code="entity_budget_exceeded",
            context={"entity_budget": entity_budget},
        )
    return expanded


def paper_space_entities(doc, graph: Graph, *, entity_budget: int, max_depth: int) -> tuple[list, list[str], int]:
    """The entities of the paper space layouts (viewports left out: every layout has one), the layouts' names
    and the expanded entity count.

    Their block inserts are checked against the entity budget like the model space's.
    """
    entities, names = [], []
    for name in doc.layouts.names_in_taborder():
        layout = doc.layouts.get(name)
        if layout.is_modelspace:
            continue
        found = [entity for entity in layout if entity.dxftype() != "VIEWPORT"]
        if found:
            entities.extend(found)
            names.append(name)
    refs = [ref for entity in entities for ref in _block_children(entity)]
    direct = sum(1 for entity in entities if not _block_children(entity))
    expanded = check_block_graph(graph, direct, refs, entity_budget=entity_budget, max_depth=max_depth)
    return entities, names, expanded


def drawing_shape(entities, box, units: str | None) -> tuple[dict, list[str]]:
    """The v5 shape descriptor of a drawing: its curves, flattened; annotations only when nothing else is drawn."""
    from features.descriptors.dxf_curves import TooManyPoints, layout_polylines

    scale, assumed = mm_per_unit(units)
    if box is None:
        return empty_descriptor(source="dxf", reason="no_extents", mm_per_unit=scale, units=units,
                                units_assumed=assumed), []
    try:
        polylines = layout_polylines(entities, box)
        if not polylines:
            polylines = layout_polylines(entities, box, skip_annotations=False)
    except TooManyPoints as exc:
        return (empty_descriptor(source="dxf", reason="too_large", mm_per_unit=scale, units=units,
                                 units_assumed=assumed), [f"shape descriptor skipped: {exc}"])
    starts, ends = polylines_to_segments(polylines)
    return describe_segments(starts, ends, source="dxf", mm_per_unit=scale, units=units, units_assumed=assumed), []


def _load(data: bytes):
    import ezdxf
    from ezdxf import recover

    if is_binary_dxf(data):
        with tempfile.TemporaryDirectory(prefix="cadml-dxf-") as folder:
            path = os.path.join(folder, "upload.dxf")
            with open(path, "wb") as handle:
                handle.write(data)
            return ezdxf.readfile(path), []
    doc, auditor = recover.read(io.BytesIO(data))
    notes = [f"recover: {len(auditor.fixes)} fixes, {len(auditor.errors)} unrecoverable errors"] if (
        auditor.fixes or auditor.errors
    ) else []
    return doc, notes


def parse_dxf(
    data: bytes,
    *,
    entity_budget: int = DEFAULT_ENTITY_BUDGET,
    max_depth: int = DEFAULT_MAX_BLOCK_DEPTH,
) -> CadDocument:
    from ezdxf import bbox as ezbbox

    binary = is_binary_dxf(data)
    scan = None
    expanded = None
    if not binary:
        scan = scan_dxf(data)
        msp_direct = scan.entity_count - sum(1 for _ in scan.modelspace_refs)
        expanded = check_block_graph(
            scan.blocks, msp_direct, scan.modelspace_refs, entity_budget=entity_budget, max_depth=max_depth
        )
    try:
        doc, warnings = _load(data)
    except CadParseError:
        raise
    except RecursionError:
        raise corrupt("the DXF structure nests too deeply to read", reason="recursion") from None
    except Exception as exc:  # ezdxf raises many types on corrupt input; all mean "corrupt file"
        raise corrupt(f"ezdxf could not read the DXF: {str(exc)[:300]}", error=type(exc).__name__) from None

    # The loaded document is checked too: recover may have repaired the structure the scan saw.
    graph, msp_direct, msp_refs = document_block_graph(doc)
    expanded = check_block_graph(graph, msp_direct, msp_refs, entity_budget=entity_budget, max_depth=max_depth)
    msp = doc.modelspace()
    counted_by = "ezdxf"
    space = "model"
    entities = msp
    if scan is not None and scan.entity_count == len(msp):
        kinds, layers = scan.kinds, scan.layers
        counted_by = "scan"
    else:
        kinds = Counter(entity.dxftype() for entity in msp)
        layers = Counter(entity.dxf.get("layer", "0") for entity in msp)
        if scan is not None:
            warnings.append(f"scan found {scan.entity_count} entities, recovered document has {len(msp)}")
    if scan is not None and not scan.has_eof:
        warnings.append("no EOF marker: the file may be truncated")
    if sum(kinds.values()) == 0:
        entities, names, expanded = paper_space_entities(doc, graph, entity_budget=entity_budget,
                                                         max_depth=max_depth)
        if not entities:
            raise empty("the DXF model space and paper space layouts hold no entities")
        kinds = Counter(entity.dxftype() for entity in entities)
        layers = Counter(entity.dxf.get("layer", "0") for entity in entities)
        counted_by, space = "ezdxf", "paper"
        warnings.append("the model space is empty: counted and described the paper space layout(s) "
                        + ", ".join(names))
    try:
        extents = ezbbox.extents(entities, fast=True)
    except RecursionError:
        raise corrupt("the DXF blocks nest too deeply to measure", reason="recursion") from None
    except Exception as exc:
        raise corrupt(f"ezdxf could not measure the DXF: {str(exc)[:300]}", error=type(exc).__name__) from None
    box = None
    if extents.has_data:
        lo, hi = np.array(extents.extmin, dtype=float), np.array(extents.extmax, dtype=float)
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            box = (tuple(lo.tolist()), tuple(hi.tolist()))
        else:
            warnings.append("non-finite extents ignored")
    units_code = doc.header.get("$INSUNITS", 0)
    units = INSUNITS.get(units_code) if isinstance(units_code, int) else None
    shape, shape_warnings = drawing_shape(entities, box, units)
    warnings.extend(shape_warnings)
    return CadDocument(
        format="dxf",
        parser=PARSER,
        entity_count=sum(kinds.values()),
        entity_kinds=dict(kinds),
        layers=dict(layers),
        bbox=box,
        solids=kinds.get("3DSOLID", 0) + kinds.get("BODY", 0),
        faces=kinds.get("3DFACE", 0),
        units=units,
        warnings=tuple(warnings),
        metadata={
            "dxfversion": doc.dxfversion,
            "encoding": "binary" if binary else "ascii",
            "expanded_entities": expanded,
            "counted_by": counted_by,
            "space": space,
        },
        shape=shape,
    )
