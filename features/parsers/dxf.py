"""DXF: ezdxf for the document (recover for ASCII, readfile for binary), a fast group-code scan for counts,
kinds and layers of ASCII files, and a block-graph guard before anything expands block inserts.

The guard walks the block graph (INSERT, MINSERT rows x columns, DIMENSION geometry blocks) iteratively,
without recursion: a cycle, a nesting deeper than `max_depth` or an expansion beyond `entity_budget`
virtual entities is refused before ezdxf's bounding box code would expand anything.
"""

from __future__ import annotations

import io
import os
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


@dataclass
class DxfScan:
    """What the group-code scan finds in the ENTITIES section (model space only)."""

    kinds: Counter = field(default_factory=Counter)
    layers: Counter = field(default_factory=Counter)
    sections: list[str] = field(default_factory=list)
    has_eof: bool = False

    @property
    def entity_count(self) -> int:
        return sum(self.kinds.values())


def is_binary_dxf(data: bytes) -> bool:
    return data.startswith(BINARY_DXF_SENTINEL)


def scan_dxf(data: bytes) -> DxfScan:
    """Fast scan of an ASCII DXF: pairs of lines (group code, value), vectorised with list/numpy ops.

    Counts model-space entities of the ENTITIES section by kind and by layer (group code 8); entities
    flagged paper space (group code 67 = 1) and sub-entities (VERTEX, SEQEND, ATTRIB) are not counted.
    """
    lines = data.split(b"\n")
    codes = list(map(bytes.strip, lines[0::2]))
    values = lines[1::2]
    pairs = min(len(codes), len(values))
    scan = DxfScan()
    zero_at = [i for i, code in enumerate(codes[:pairs]) if code == b"0"]
    if not zero_at:
        return scan
    # Locate the ENTITIES section between "0 SECTION / 2 ENTITIES" and the next "0 ENDSEC".
    zero_values = [values[i].strip() for i in zero_at]
    start = end = None
    for position, (index, value) in enumerate(zip(zero_at, zero_values)):
        if value == b"SECTION" and index + 1 < pairs:
            name = values[index + 1].strip()
            scan.sections.append(name.decode("ascii", "replace"))
            if name == b"ENTITIES" and start is None:
                start = position + 1
        elif value == b"ENDSEC" and start is not None and end is None:
            end = position
        elif value == b"EOF":
            scan.has_eof = True
            break
    if start is None:
        return scan
    if end is None:
        end = len(zero_at)
    entity_rows = np.array(zero_at[start:end] + [zero_at[end] if end < len(zero_at) else pairs], dtype=np.int64)
    if entity_rows.size <= 1:
        return scan
    begins, limits = entity_rows[:-1], entity_rows[1:]
    lo, hi = int(begins[0]), int(limits[-1])
    section_codes = codes[lo:hi]
    layer_rows = np.array([lo + i for i, code in enumerate(section_codes) if code == b"8"], dtype=np.int64)
    paper_rows = np.array(
        [lo + i for i, code in enumerate(section_codes) if code == b"67" and values[lo + i].strip() == b"1"],
        dtype=np.int64,
    )
    layer_pick = np.searchsorted(layer_rows, begins)
    paper_pick = np.searchsorted(paper_rows, begins)
    for k, (begin, limit) in enumerate(zip(begins.tolist(), limits.tolist())):
        kind = zero_values[start + k]
        if kind in _SUB_ENTITIES:
            continue
        p = int(paper_pick[k])
        if p < paper_rows.size and paper_rows[p] < limit:
            continue
        name = kind.decode("ascii", "replace")
        scan.kinds[name] += 1
        j = int(layer_pick[k])
        layer = values[layer_rows[j]].strip().decode("utf-8", "replace") if j < layer_rows.size and layer_rows[j] < limit else "0"
        scan.layers[layer] += 1
    return scan


def _block_children(entity) -> list[tuple[str, int]]:
    kind = entity.dxftype()
    if kind == "INSERT":
        rows = max(1, int(entity.dxf.get("row_count", 1) or 1))
        cols = max(1, int(entity.dxf.get("column_count", 1) or 1))
        return [(entity.dxf.get("name", ""), rows * cols)]
    if kind in ("DIMENSION", "ARC_DIMENSION", "LARGE_RADIAL_DIMENSION"):
        name = entity.dxf.get("geometry")
        return [(name, 1)] if name else []
    return []


def check_block_graph(doc, *, entity_budget: int, max_depth: int) -> int:
    """Refuse cyclic, too deep or too large block structures; return the expanded model-space size.

    Iterative post-order DFS with memoisation: each block is expanded once, in O(blocks + inserts).
    """
    graph: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    for block in doc.blocks:
        direct = 0
        children: list[tuple[str, int]] = []
        for entity in block:
            refs = _block_children(entity)
            if refs:
                children.extend(refs)
            else:
                direct += 1
        graph[block.name.upper()] = (direct, [(name.upper(), mult) for name, mult in children])

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

    expanded = 0
    for entity in doc.modelspace():
        refs = _block_children(entity)
        if not refs:
            expanded += 1
        for child, mult in refs:
            expanded += mult * sizes.get(child.upper(), 0)
        if expanded > entity_budget:
            break
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

    try:
        doc, warnings = _load(data)
    except CadParseError:
        raise
    except RecursionError:
        raise corrupt("the DXF structure nests too deeply to read", reason="recursion") from None
    except Exception as exc:  # ezdxf raises many types on corrupt input; all mean "corrupt file"
        raise corrupt(f"ezdxf could not read the DXF: {str(exc)[:300]}", error=type(exc).__name__) from None

    expanded = check_block_graph(doc, entity_budget=entity_budget, max_depth=max_depth)
    msp = doc.modelspace()
    if is_binary_dxf(data):
        kinds: Counter = Counter(entity.dxftype() for entity in msp)
        layers: Counter = Counter(entity.dxf.get("layer", "0") for entity in msp)
        scanned = False
    else:
        scan = scan_dxf(data)
        kinds, layers = scan.kinds, scan.layers
        scanned = True
        if not scan.has_eof:
            warnings.append("no EOF marker: the file may be truncated")
        msp_count = len(msp)
        if scan.entity_count != msp_count:
            # recover repaired or dropped entities: the loaded document is the truth
            kinds = Counter(entity.dxftype() for entity in msp)
            layers = Counter(entity.dxf.get("layer", "0") for entity in msp)
            warnings.append(f"scan found {scan.entity_count} entities, recovered document has {msp_count}")
            scanned = False
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
            "encoding": "binary" if is_binary_dxf(data) else "ascii",
            "expanded_entities": expanded,
            "counted_by": "scan" if scanned else "ezdxf",
        },
    )
