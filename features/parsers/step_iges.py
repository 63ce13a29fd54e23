"""STEP and IGES through OpenCASCADE (`OCP`, from cadquery-ocp-novtk).

Reader status is checked, all roots are transferred, unique sub-shapes are counted with
`TopExp.MapShapes_s` (an explorer alone counts shared edges once per face), the bounding box comes from
`BRepBndLib.Add_s` read with `CornerMin()`/`CornerMax()`, and volume/area only where solids/faces exist.
OCCT converts lengths to its session unit, millimetres. This module runs inside parse worker processes.
"""

from __future__ import annotations

import math
import os
import tempfile

from features.descriptors import describe_segments, describe_triangles, empty_descriptor, polylines_to_segments

from .document import CadDocument
from .errors import corrupt, empty

PARSER = "occt"

_KINDS = ("SOLID", "SHELL", "FACE", "EDGE", "VERTEX")


def _ocp():
    """Import the OCP names once (the worker process pre-imports this module at start)."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.IGESControl import IGESControl_Reader
    from OCP.OCP.collections import IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher as ShapeMap
    from OCP.STEPControl import STEPControl_Reader
    from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_SHELL, TopAbs_SOLID, TopAbs_VERTEX
    from OCP.TopExp import TopExp, TopExp_Explorer

    return {
        "Bnd_Box": Bnd_Box,
        "BRepBndLib": BRepBndLib,
        "BRepGProp": BRepGProp,
        "GProp_GProps": GProp_GProps,
        "RetDone": IFSelect_RetDone,
        "readers": {"step": STEPControl_Reader, "iges": IGESControl_Reader},
        "ShapeMap": ShapeMap,
        "TopExp": TopExp,
        "TopExp_Explorer": TopExp_Explorer,
        "types": {
            "SOLID": TopAbs_SOLID,
            "SHELL": TopAbs_SHELL,
            "FACE": TopAbs_FACE,
            "EDGE": TopAbs_EDGE,
            "VERTEX": TopAbs_VERTEX,
        },
    }


_OCP_CACHE: dict | None = None


def preload() -> None:
    """Import OCP now (called once when a worker process starts)."""
    global _OCP_CACHE
    if _OCP_CACHE is None:
        _OCP_CACHE = _ocp()


def _names() -> dict:
    preload()
    assert _OCP_CACHE is not None
    return _OCP_CACHE


def read_shape(fmt: str, path: str):
    """Read and transfer all roots; return the compound shape or raise CadParseError."""
    ocp = _names()
    reader = ocp["readers"][fmt]()
    status = reader.ReadFile(path)
    if status != ocp["RetDone"]:
        raise corrupt(f"OpenCASCADE could not read the {fmt.upper()} file", reader_status=str(status).split(".")[-1])
    roots = reader.NbRootsForTransfer()
    if roots == 0:
        raise empty(f"the {fmt.upper()} file has no transferable roots (no geometry)", roots=0)
    reader.TransferRoots()
    if reader.NbShapes() == 0:
        raise empty(f"the {fmt.upper()} file transferred no shapes (no geometry)", roots=roots)
    shape = reader.OneShape()
    if shape is None or shape.IsNull():
        raise empty(f"the {fmt.upper()} file transferred a null shape (no geometry)", roots=roots)
    return shape


def count_subshapes(shape) -> dict[str, int]:
    ocp = _names()
    counts = {}
    for kind in _KINDS:
        shape_map = ocp["ShapeMap"]()
        ocp["TopExp"].MapShapes_s(shape, ocp["types"][kind], shape_map)
        counts[kind] = shape_map.Size()
    return counts


def bounding_box(shape):
    ocp = _names()
    box = ocp["Bnd_Box"]()
    ocp["BRepBndLib"].Add_s(shape, box, True)
    if box.IsVoid():
        return None
    lo, hi = box.CornerMin(), box.CornerMax()
    values = (lo.X(), lo.Y(), lo.Z(), hi.X(), hi.Y(), hi.Z())
    if not all(math.isfinite(v) and abs(v) < 1e100 for v in values):
        return None  # an infinite (open) box: no usable extent
    return (values[:3], values[3:])


def _solid_volume(shape) -> float:
    ocp = _names()
    total = 0.0
    explorer = ocp["TopExp_Explorer"](shape, ocp["types"]["SOLID"])
    while explorer.More():
        props = ocp["GProp_GProps"]()
        ocp["BRepGProp"].VolumeProperties_s(explorer.Current(), props)
        total += abs(props.Mass())
        explorer.Next()
    return total


def _surface_area(shape) -> float:
    ocp = _names()
    props = ocp["GProp_GProps"]()
    ocp["BRepGProp"].SurfaceProperties_s(shape, props)
    return abs(props.Mass())


def check_iges_directory(data: bytes) -> list[str]:
    """Check the IGES directory's parameter-data pointers before OCCT sees them.

    Every directory entry (two 80-column lines, section letter D in column 73) points at its first
    parameter line (columns 9-16). When no pointer lands inside the parameter section the file is corrupt;
    when only some do, OCCT may still salvage geometry and the summary carries a warning.
    """
    lines = data.splitlines()
    parameter_lines = sum(1 for line in lines if line[72:73] == b"P")
    directory = [line for line in lines if line[72:73] == b"D"]
    pointers = []
    for line in directory[0::2]:
        try:
            pointers.append(int(line[8:16]))
        except ValueError:
            pointers.append(-1)
    if not pointers:
        raise empty("the IGES file has no directory entries (no geometry)")
    bad = sum(1 for p in pointers if not 1 <= p <= parameter_lines)
    if bad == len(pointers):
        raise corrupt(
            "every IGES directory entry points outside the parameter section",
            directory_entries=len(pointers),
            parameter_lines=parameter_lines,
        )
    return [f"{bad} of {len(pointers)} IGES directory pointers are out of range"] if bad else []


IGES_RECORD = 80


def iges_records(data: bytes) -> tuple[bytes, bool]:
    """The IGES text with one 80-column record per line.

    Some writers put the fixed 80-column records back to back without line terminators; OpenCASCADE (and the
    directory check) read lines, so such a file is cut into its records. Returns (text, was_unterminated).
    """
    first_break = data.find(b"\n")
    head = data if first_break < 0 else data[:first_break]
    head = head.rstrip(b"\r")
    if len(head) <= IGES_RECORD:
        return data, False
    body = data.rstrip(b"\r\n\x00\x1a ")
    if b"\n" in body or b"\r" in body:
        return data, False
    if len(body) % IGES_RECORD:
        body = body + b" " * (IGES_RECORD - len(body) % IGES_RECORD)
    records = [body[i:i + IGES_RECORD] for i in range(0, len(body), IGES_RECORD)]
    return b"\n".join(records) + b"\n", True


def occt_shape_descriptor(shape, box) -> tuple[dict, list[str]]:
    """The v5 shape descriptor of a B-rep: its tessellation, or its edges when it has no faces."""
    from features.descriptors.brep import TessellationTooLarge, edge_polylines, tessellate

    try:
        triangles = tessellate(shape, box)
        if len(triangles):
            return describe_triangles(triangles, source="brep_tessellation", mm_per_unit=1.0, units="mm"), []
        starts, ends = polylines_to_segments(edge_polylines(shape, box))
        return describe_segments(starts, ends, source="brep_edges", mm_per_unit=1.0, units="mm"), []
    except TessellationTooLarge as exc:
        return (empty_descriptor(source="brep", reason="too_large", units="mm", units_assumed=False),
                [f"shape descriptor skipped: {exc}"])


def read_shape_bytes(fmt: str, data: bytes):
    """The OCCT shape of STEP or IGES bytes (IGES records already normalised by ``iges_records``), read through a
    private temporary file because the OCCT readers take a path."""
    with tempfile.TemporaryDirectory(prefix="cadml-occt-") as folder:
        path = os.path.join(folder, "upload." + ("stp" if fmt == "step" else "igs"))
        with open(path, "wb") as handle:
            handle.write(data)
        return read_shape(fmt, path)


def parse_occt(fmt: str, data: bytes) -> CadDocument:
    if fmt not in ("step", "iges"):
        raise ValueError(f"parse_occt handles step and iges, not {fmt!r}")
    warnings: list[str] = []
    if fmt == "iges":
        data, unterminated = iges_records(data)
        if unterminated:
            warnings.append("IGES records without line terminators: read as fixed 80-column records")
        warnings.extend(check_iges_directory(data))
    shape = read_shape_bytes(fmt, data)
    counts = count_subshapes(shape)
    if counts["FACE"] == 0 and counts["EDGE"] == 0 and counts["VERTEX"] == 0:
        raise empty(f"the {fmt.upper()} file holds no geometry", **counts)
    volume = _solid_volume(shape) if counts["SOLID"] else None
    area = _surface_area(shape) if counts["FACE"] else None
    for name, value in (("volume", volume), ("area", area)):
        if value is not None and not math.isfinite(value):
            warnings.append(f"{name} could not be computed")
    volume = volume if volume is not None and math.isfinite(volume) else None
    area = area if area is not None and math.isfinite(area) else None
    box = bounding_box(shape)
    if box is None:
        warnings.append("no finite bounding box")
    kinds = {kind: count for kind, count in counts.items() if count}
    shape_descriptor, shape_warnings = occt_shape_descriptor(shape, box)
    warnings.extend(shape_warnings)
    return CadDocument(
        format=fmt,
        parser=PARSER,
        entity_count=sum(kinds.values()),
        entity_kinds=kinds,
        layers={},
        bbox=box,
        solids=counts["SOLID"],
        shells=counts["SHELL"],
        faces=counts["FACE"],
        edges=counts["EDGE"],
        volume=volume,
        area=area,
        units="mm",
        warnings=tuple(warnings),
        metadata={"vertices": counts["VERTEX"]},
        shape=shape_descriptor,
    )
