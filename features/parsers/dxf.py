"""DXF: ezdxf for the document (recover for ASCII, readfile for binary), a fast group-code scan for counts,
kinds and layers of ASCII files, and a block-graph guard before anything expands block inserts.

The guard walks the block graph (INSERT, MINSERT rows x columns, DIMENSION geometry blocks) iteratively,
without recursion: a cycle, a nesting deeper than `max_depth` or an expansion beyond `entity_budget`
virtual entities is refused before ezdxf's bounding box code would expand anything.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

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


def _first_value(codes: list[bytes], values: list[bytes], begin: int, limit: int, code: bytes) -> bytes | None:
    for row in range(begin + 1, limit):
        if codes[row] == code:
            return values[row].strip()
    return None


def _int_value(raw: bytes | None, default: int = 1) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _insert_refs(kind: bytes, codes, values, begin: int, limit: int) -> list[tuple[str, int]]:
    if kind in (b"INSERT", b"MINSERT"):
        name = _first_value(codes, values, begin, limit, b"2")
        columns = max(1, _int_value(_first_value(codes, values, begin, limit, b"70")))
        rows = max(1, _int_value(_first_value(codes, values, begin, limit, b"71")))
        return [(name.decode("utf-8", "replace").upper(), rows * columns)] if name else []
    if kind in (b"DIMENSION", b"ARC_DIMENSION", b"LARGE_RADIAL_DIMENSION"):
        name = _first_value(codes, values, begin, limit, b"2")
        return [(name.decode("utf-8", "replace").upper(), 1)] if name else []
    return []


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

    def decode(raw: bytes) -> str:
        text = raw.decode(encoding, "replace")
        return decode_dxf_unicode(text) if has_dxf_unicode(text) else text

    return decode


def scan_dxf(data: bytes) -> DxfScan:
    """Fast scan of an ASCII DXF as pairs of lines (group code, value), vectorised with list/numpy ops.

    Counts model-space entities of the ENTITIES section by kind and by layer (group code 8); entities
    flagged paper space (group code 67 = 1) and sub-entities (VERTEX, SEQEND, ATTRIB) are not counted.
    Also records the block graph of the BLOCKS section (INSERT/MINSERT/DIMENSION references) so that
    cycles, depth and expansion are checked before ezdxf loads anything.
    """
    lines = data.split(b"\n")
    codes = list(map(bytes.strip, lines[0::2]))
    values = lines[1::2]
    pairs = min(len(codes), len(values))
    del codes[pairs:]
    scan = DxfScan()
    zero_at = [i for i, code in enumerate(codes) if code == b"0"]
    if not zero_at:
        return scan
    zero_values = [values[i].strip() for i in zero_at]
    zero_at.append(pairs)
    section = None
    entity_positions: list[int] = []
    block_name: str | None = None
    for position, value in enumerate(zero_values):
        begin, limit = zero_at[position], zero_at[position + 1]
        if value == b"SECTION":
            name = _first_value(codes, values, begin, limit, b"2") or b""
            section = name
            scan.sections.append(name.decode("ascii", "replace"))
            continue
        if value == b"ENDSEC":
            section = None
            continue
        if value == b"EOF":
            scan.has_eof = True
            break
        if section == b"ENTITIES":
            entity_positions.append(position)
        elif section == b"BLOCKS":
            if value == b"BLOCK":
                raw = _first_value(codes, values, begin, limit, b"2") or b""
                block_name = raw.decode("utf-8", "replace").upper()
                scan.blocks.setdefault(block_name, (0, []))
            elif value == b"ENDBLK":
                block_name = None
            elif block_name is not None and value not in _SUB_ENTITIES:
                direct, children = scan.blocks[block_name]
                refs = _insert_refs(value, codes, values, begin, limit)
                if refs:
                    children.extend(refs)
                else:
                    scan.blocks[block_name] = (direct + 1, children)
    if not entity_positions:
        return scan
    begins = np.array([zero_at[p] for p in entity_positions], dtype=np.int64)
    limits = np.array([zero_at[p + 1] for p in entity_positions], dtype=np.int64)
    lo, hi = int(begins[0]), int(limits[-1])
    section_codes = codes[lo:hi]
    layer_rows = np.array([lo + i for i, code in enumerate(section_codes) if code == b"8"], dtype=np.int64)
    paper_rows = np.array(
        [lo + i for i, code in enumerate(section_codes) if code == b"67" and values[lo + i].strip() == b"1"],
        dtype=np.int64,
    )
    layer_pick = np.searchsorted(layer_rows, begins)
    paper_pick = np.searchsorted(paper_rows, begins)
    raw_layers: Counter = Counter()
    for k, (begin, limit) in enumerate(zip(begins.tolist(), limits.tolist())):
        kind = zero_values[entity_positions[k]]
        if kind in _SUB_ENTITIES:
            continue
        p = int(paper_pick[k])
        if p < paper_rows.size and paper_rows[p] < limit:
            continue
        scan.kinds[kind.decode("ascii", "replace")] += 1
        j = int(layer_pick[k])
        raw_layers[values[layer_rows[j]].strip() if j < layer_rows.size and layer_rows[j] < limit else b"0"] += 1
        scan.modelspace_refs.extend(_insert_refs(kind, codes, values, begin, limit))
    decode = _text_decoder(data)
    for raw, count in raw_layers.items():  # decode each distinct layer name once
        scan.layers[decode(raw)] += count
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
        raise empty("the DXF model space holds no entities")
    try:
        extents = ezbbox.extents(msp, fast=True)
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
    return CadDocument(
        format="dxf",
        parser=PARSER,
        entity_count=sum(kinds.values()),
        entity_kinds=dict(kinds),
        layers=dict(layers),
        bbox=box,
        solids=kinds.get("3DSOLID", 0) + kinds.get("BODY", 0),
        faces=kinds.get("3DFACE", 0),
        units=INSUNITS.get(units_code) if isinstance(units_code, int) else None,
        warnings=tuple(warnings),
        metadata={
            "dxfversion": doc.dxfversion,
            "encoding": "binary" if binary else "ascii",
            "expanded_entities": expanded,
            "counted_by": counted_by,
        },
    )
