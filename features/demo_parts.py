"""Labelled parametric demo parts (Django-free): five families with known dimensions, each written as
STEP and binary STL (solid built with OpenCASCADE) and as a DXF profile drawing (ezdxf, millimetres).

Families: plate_with_holes, l_bracket, flange, shaft, gear. `write_demo_parts()` also writes
`labels.json` next to the parts: `{"version": 1, "parts": {file name: {"part_type", "dimensions"}}}`,
which `manage.py ingest` reads to set the vector meta `part_type`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

FAMILIES = ("plate_with_holes", "l_bracket", "flange", "shaft", "gear")
LABELS_FILE = "labels.json"


@dataclass
class DemoPart:
    family: str
    dimensions: dict[str, float]
    outline: list[tuple[float, float]]  # closed profile drawn in the DXF
    circles: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y, r) in the DXF
    shape: object = None  # OCP TopoDS_Shape


def _ocp():
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut, BRepAlgoAPI_Fuse
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace, BRepBuilderAPI_MakePolygon
    from OCP.BRepPrimAPI import BRepPrimAPI_MakeCylinder, BRepPrimAPI_MakePrism
    from OCP.gp import gp_Ax2, gp_Dir, gp_Pnt, gp_Vec

    return locals()


def _prism(points: list[tuple[float, float]], height: float):
    o = _ocp()
    polygon = o["BRepBuilderAPI_MakePolygon"]()
    for x, y in points:
        polygon.Add(o["gp_Pnt"](x, y, 0.0))
    polygon.Close()
    face = o["BRepBuilderAPI_MakeFace"](polygon.Wire()).Face()
    return o["BRepPrimAPI_MakePrism"](face, o["gp_Vec"](0.0, 0.0, height)).Shape()


def _cylinder(x: float, y: float, z: float, radius: float, height: float, axis=(0.0, 0.0, 1.0)):
    o = _ocp()
    ax = o["gp_Ax2"](o["gp_Pnt"](x, y, z), o["gp_Dir"](*axis))
    return o["BRepPrimAPI_MakeCylinder"](ax, radius, height).Shape()


def _cut(shape, tools):
    o = _ocp()
    for tool in tools:
        shape = o["BRepAlgoAPI_Cut"](shape, tool).Shape()
    return shape


def _rectangle(w: float, h: float) -> list[tuple[float, float]]:
    return [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]


def _polygon_circle(r: float, n: int = 48) -> list[tuple[float, float]]:
    return [(r * math.cos(2 * math.pi * i / n), r * math.sin(2 * math.pi * i / n)) for i in range(n)]


def plate_with_holes(rng: random.Random) -> DemoPart:
    length, width, thickness = rng.uniform(60, 200), rng.uniform(30, 120), rng.uniform(3, 12)
    columns, rows = rng.randint(2, 4), rng.randint(1, 3)
    radius = min(length / columns, width / rows) * rng.uniform(0.12, 0.25)
    centres = [(length * (i + 0.5) / columns, width * (j + 0.5) / rows) for i in range(columns) for j in range(rows)]
    shape = _cut(_prism(_rectangle(length, width), thickness),
                 [_cylinder(x, y, -1, radius, thickness + 2) for x, y in centres])
    return DemoPart("plate_with_holes",
                    {"length": length, "width": width, "thickness": thickness, "holes": len(centres),
                     "hole_radius": radius},
                    _rectangle(length, width), [(x, y, radius) for x, y in centres], shape)


def l_bracket(rng: random.Random) -> DemoPart:
    leg_a, leg_b, wall, depth = rng.uniform(40, 120), rng.uniform(30, 100), rng.uniform(4, 12), rng.uniform(20, 80)
    outline = [(0.0, 0.0), (leg_a, 0.0), (leg_a, wall), (wall, wall), (wall, leg_b), (0.0, leg_b)]
    return DemoPart("l_bracket", {"leg_a": leg_a, "leg_b": leg_b, "wall": wall, "depth": depth},
                    outline, [], _prism(outline, depth))


def flange(rng: random.Random) -> DemoPart:
    outer, thickness = rng.uniform(40, 120), rng.uniform(6, 20)
    bore = outer * rng.uniform(0.2, 0.4)
    bolts, bolt_radius = rng.choice((4, 6, 8)), outer * rng.uniform(0.05, 0.08)
    pitch = (outer + bore) / 2
    centres = [(pitch * math.cos(2 * math.pi * i / bolts), pitch * math.sin(2 * math.pi * i / bolts))
               for i in range(bolts)]
    shape = _cut(_cylinder(0, 0, 0, outer, thickness),
                 [_cylinder(0, 0, -1, bore, thickness + 2)]
                 + [_cylinder(x, y, -1, bolt_radius, thickness + 2) for x, y in centres])
    return DemoPart("flange", {"outer_radius": outer, "bore_radius": bore, "thickness": thickness,
                               "bolts": bolts, "bolt_radius": bolt_radius},
                    _polygon_circle(outer), [(0.0, 0.0, bore)] + [(x, y, bolt_radius) for x, y in centres], shape)


def shaft(rng: random.Random) -> DemoPart:
    o = _ocp()
    steps = rng.randint(2, 4)
    radii = sorted((rng.uniform(5, 25) for _ in range(steps)), reverse=True)
    lengths = [rng.uniform(20, 80) for _ in range(steps)]
    shape, x = None, 0.0
    outline_top: list[tuple[float, float]] = []
    for radius, length in zip(radii, lengths):
        piece = _cylinder(x, 0, 0, radius, length, axis=(1.0, 0.0, 0.0))
        shape = piece if shape is None else o["BRepAlgoAPI_Fuse"](shape, piece).Shape()
        outline_top += [(x, radius), (x + length, radius)]
        x += length
    outline = [(0.0, -radii[0])] + outline_top + [(px, -py) for px, py in reversed(outline_top)][:-1]
    return DemoPart("shaft", {"steps": steps, "total_length": x, "max_radius": radii[0], "min_radius": radii[-1]},
                    outline, [], shape)


def gear(rng: random.Random) -> DemoPart:
    teeth, module, thickness = rng.randint(12, 40), rng.uniform(1.5, 4.0), rng.uniform(5, 20)
    pitch = teeth * module / 2
    outer, root = pitch + module, pitch - 1.25 * module
    outline: list[tuple[float, float]] = []
    for i in range(teeth):
        base = 2 * math.pi * i / teeth
        step = 2 * math.pi / teeth
        for fraction, radius in ((0.0, root), (0.15, outer), (0.45, outer), (0.6, root)):
            angle = base + fraction * step
            outline.append((radius * math.cos(angle), radius * math.sin(angle)))
    bore = root * rng.uniform(0.2, 0.4)
    shape = _cut(_prism(outline, thickness), [_cylinder(0, 0, -1, bore, thickness + 2)])
    return DemoPart("gear", {"teeth": teeth, "module": module, "thickness": thickness, "outer_radius": outer,
                             "bore_radius": bore}, outline, [(0.0, 0.0, bore)], shape)


BUILDERS = {
    "plate_with_holes": plate_with_holes,
    "l_bracket": l_bracket,
    "flange": flange,
    "shaft": shaft,
    "gear": gear,
}


def _write_step(shape, path: Path) -> None:
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_AsIs, STEPControl_Writer

    writer = STEPControl_Writer()
    writer.Transfer(shape, STEPControl_AsIs)
    if writer.Write(str(path)) != IFSelect_RetDone:
        raise RuntimeError(f"could not write {path}")


def _write_stl(shape, path: Path) -> None:
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.StlAPI import StlAPI_Writer

    BRepMesh_IncrementalMesh(shape, 0.2, False, 0.3, False)
    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    if not writer.Write(shape, str(path)):
        raise RuntimeError(f"could not write {path}")


def _write_dxf(part: DemoPart, path: Path) -> None:
    import ezdxf

    doc = ezdxf.new("R2010")
    doc.header["$INSUNITS"] = 4  # millimetres
    doc.layers.add("OUTLINE")
    doc.layers.add("HOLES")
    msp = doc.modelspace()
    msp.add_lwpolyline(part.outline, close=True, dxfattribs={"layer": "OUTLINE"})
    for x, y, r in part.circles:
        msp.add_circle((x, y), r, dxfattribs={"layer": "HOLES"})
    doc.saveas(path)


def write_demo_parts(out_dir: Path, *, count: int, seed: int = 0, progress=None) -> dict:
    """Write `count` parts (families in turn) as STEP, STL and DXF; return the labels manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    manifest: dict = {"version": 1, "parts": {}}
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        part = BUILDERS[family](rng)
        stem = f"{family}_{index // len(FAMILIES) + 1:03d}"
        files = {f"{stem}.step": _write_step, f"{stem}.stl": _write_stl, f"{stem}.dxf": None}
        for name, writer in files.items():
            path = out_dir / name
            if writer is None:
                _write_dxf(part, path)
            else:
                writer(part.shape, path)
            manifest["parts"][name] = {"part_type": family, "dimensions": part.dimensions}
        if progress is not None:
            progress(index + 1, count)
    (out_dir / LABELS_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def read_labels(folder: Path) -> dict[str, str]:
    """{file name: part_type} from a folder's labels.json; {} when there is none."""
    path = folder / LABELS_FILE
    if not path.is_file():
        return {}
    manifest = json.loads(path.read_text())
    parts = manifest.get("parts", {}) if isinstance(manifest, dict) else {}
    return {name: entry["part_type"] for name, entry in parts.items()
            if isinstance(entry, dict) and isinstance(entry.get("part_type"), str)}
