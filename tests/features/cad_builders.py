"""`make_*` helpers that generate CAD files (valid and hostile) in memory for the features tests.

Nothing is downloaded: every hostile case of shared/docs/hostile-inputs.md is built here in a few lines.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile

import numpy as np


# -- STL -----------------------------------------------------------------------------------------

def make_binary_stl(triangles: np.ndarray, *, header: bytes = b"cadml test", count: int | None = None) -> bytes:
    triangles = np.asarray(triangles, dtype="<f4").reshape(-1, 3, 3)
    records = np.zeros(
        len(triangles), dtype=[("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")]
    )
    records["vertices"] = triangles
    declared = len(triangles) if count is None else count
    return header.ljust(80, b" ")[:80] + struct.pack("<I", declared) + records.tobytes()


def make_box_triangles(size=(1.0, 2.0, 3.0), origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A closed, outward-oriented box of 12 triangles."""
    x, y, z = size
    ox, oy, oz = origin
    v = np.array(
        [[0, 0, 0], [x, 0, 0], [x, y, 0], [0, y, 0], [0, 0, z], [x, 0, z], [x, y, z], [0, y, z]], dtype=float
    ) + [ox, oy, oz]
    faces = [
        (0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
        (1, 2, 6), (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7),
    ]
    return v[np.array(faces)]


def make_ascii_stl(solids: dict[str, np.ndarray], *, leading: str = "") -> bytes:
    out = io.StringIO()
    for name, triangles in solids.items():
        out.write(f"{leading}solid {name}\n")
        for tri in np.asarray(triangles).reshape(-1, 3, 3):
            out.write("  facet normal 0 0 0\n    outer loop\n")
            for vx, vy, vz in tri:
                out.write(f"      vertex {vx:.6e} {vy:.6e} {vz:.6e}\n")
            out.write("    endloop\n  endfacet\n")
        out.write(f"endsolid {name}\n")
    return out.getvalue().encode()


# -- DXF -----------------------------------------------------------------------------------------

def _dxf_bytes(doc, fmt: str = "asc") -> bytes:
    if fmt == "bin":
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "out.dxf")
            doc.saveas(path, fmt="bin")
            with open(path, "rb") as handle:
                return handle.read()
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode()


def make_dxf_lines(count: int = 10, *, fmt: str = "asc", layers: int = 1, version: str = "R2010") -> bytes:
    import ezdxf

    doc = ezdxf.new(version)
    msp = doc.modelspace()
    for i in range(count):
        msp.add_line((i, 0), (i, 10), dxfattribs={"layer": f"L{i % layers}"})
    return _dxf_bytes(doc, fmt)


def make_dxf_self_insert() -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    block = doc.blocks.new("SELF")
    block.add_line((0, 0), (1, 1))
    block.add_blockref("SELF", (1, 0))
    doc.modelspace().add_blockref("SELF", (0, 0))
    return _dxf_bytes(doc)


def make_dxf_mutual_inserts() -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    a, b = doc.blocks.new("A"), doc.blocks.new("B")
    a.add_line((0, 0), (1, 0))
    a.add_blockref("B", (0, 1))
    b.add_circle((0, 0), 1)
    b.add_blockref("A", (1, 1))
    doc.modelspace().add_blockref("A", (0, 0))
    return _dxf_bytes(doc)


def make_dxf_block_chain(depth: int = 5000) -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    for level in range(depth):
        block = doc.blocks.new(f"B{level}")
        block.add_line((0, 0), (1, 0))
        if level + 1 < depth:
            block.add_blockref(f"B{level + 1}", (0, 1))
    doc.modelspace().add_blockref("B0", (0, 0))
    return _dxf_bytes(doc)


def make_dxf_fan_out(levels: int = 9, fan: int = 10) -> bytes:
    """fan ** levels virtual entities (a billion by default) from a few kilobytes of DXF."""
    import ezdxf

    doc = ezdxf.new("R12")
    doc.blocks.new("F0").add_line((0, 0), (1, 0))
    for level in range(1, levels + 1):
        block = doc.blocks.new(f"F{level}")
        for i in range(fan):
            block.add_blockref(f"F{level - 1}", (i, level))
    doc.modelspace().add_blockref(f"F{levels}", (0, 0))
    return _dxf_bytes(doc)


def make_dxf_minsert(rows: int = 32767, columns: int = 32767) -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    doc.blocks.new("CELL").add_line((0, 0), (1, 0))
    doc.modelspace().add_blockref(
        "CELL",
        (0, 0),
        dxfattribs={"row_count": rows, "column_count": columns, "row_spacing": 1.0, "column_spacing": 1.0},
    )
    return _dxf_bytes(doc)


# -- STEP / IGES / OBJ ---------------------------------------------------------------------------

STEP_HEADER = (
    "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('cadml test'),'2;1');\n"
    "FILE_NAME('t.stp','2026-01-01T00:00:00',(''),(''),'','','');\n"
    "FILE_SCHEMA(('AUTOMOTIVE_DESIGN { 1 0 10303 214 1 1 1 1 }'));\nENDSEC;\nDATA;\n"
)
STEP_FOOTER = "ENDSEC;\nEND-ISO-10303-21;\n"


def make_tessellated_stl(path, relative: float, angular: float) -> bytes:
    """A binary STL of the STEP/IGES file at ``path`` tessellated by OCCT: linear deflection ``relative`` times the
    bounding-box diagonal, angular deflection ``angular`` radians."""
    import math

    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.BRepTools import BRepTools
    from OCP.StlAPI import StlAPI_Writer

    from features.parsers.step_iges import bounding_box, read_shape

    fmt = "step" if path.suffix.lower() in (".step", ".stp") else "iges"
    shape = read_shape(fmt, str(path))
    BRepMesh_IncrementalMesh(shape, relative * math.dist(*bounding_box(shape)), False, angular, False)
    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    with tempfile.TemporaryDirectory() as folder:
        target = f"{folder}/tess.stl"
        writer.Write(shape, target)
        BRepTools.Clean_s(shape)
        with open(target, "rb") as handle:
            return handle.read()


def make_step(data_lines: str) -> bytes:
    return (STEP_HEADER + data_lines + STEP_FOOTER).encode()


def make_step_nested_parentheses(depth: int = 200_000) -> bytes:
    return make_step("#1=CARTESIAN_POINT(''," + "(" * depth + "0." + ")" * depth + ");\n")


def make_step_cyclic_references() -> bytes:
    return make_step(
        "#1=CLOSED_SHELL('',(#2));\n"
        "#2=ADVANCED_FACE('',(#3),#4,.T.);\n"
        "#3=FACE_OUTER_BOUND('',#5,.T.);\n"
        "#4=PLANE('',#6);\n"
        "#5=EDGE_LOOP('',(#3));\n"
        "#6=AXIS2_PLACEMENT_3D('',#6,#6,#6);\n"
        "#7=MANIFOLD_SOLID_BREP('',#1);\n"
        "#8=ADVANCED_BREP_SHAPE_REPRESENTATION('',(#7,#8),#9);\n"
        "#9=( GEOMETRIC_REPRESENTATION_CONTEXT(3) GLOBAL_UNIT_ASSIGNED_CONTEXT((#10)) "
        "REPRESENTATION_CONTEXT('',''));\n"
        "#10=( LENGTH_UNIT() NAMED_UNIT(*) SI_UNIT(.MILLI.,.METRE.));\n"
    )


def make_step_empty_tessellated_shell() -> bytes:
    return make_step(
        "#1=TESSELLATED_SHELL('',(),$);\n"
        "#2=TESSELLATED_SHAPE_REPRESENTATION('',(#1),#3);\n"
        "#3=( GEOMETRIC_REPRESENTATION_CONTEXT(3) GLOBAL_UNIT_ASSIGNED_CONTEXT((#4)) "
        "REPRESENTATION_CONTEXT('',''));\n"
        "#4=( LENGTH_UNIT() NAMED_UNIT(*) SI_UNIT(.MILLI.,.METRE.));\n"
    )


def _iges_line(text: str, section: str, number: int) -> str:
    return f"{text:<72.72}{section}{number:7d}"


def make_iges_bad_directory_pointers(entities: int = 3) -> bytes:
    """IGES whose directory entries all point at parameter data far beyond the file."""
    start = [_iges_line("cadml hostile iges", "S", 1)]
    glob = [_iges_line("1H,,1H;,4Htest,6Ht.igs,4Hcadml,3H1.0,32,38,6,308,15,4Htest,1.,2,2HMM,1,1.,", "G", 1),
            _iges_line("15H20260101.000000,1.E-06,1000.,1H ,1H ,11,0,15H20260101.000000;", "G", 2)]
    directory, parameters = [], []
    for i in range(entities):
        d = 2 * i + 1
        pointer = 9_999_990 + i  # far beyond the parameter section
        directory.append(_iges_line(f"{110:8d}{pointer:8d}" + f"{0:8d}" * 6 + f"{'00000000':>8}", "D", d))
        directory.append(_iges_line(f"{110:8d}{0:8d}{0:8d}{5:8d}{0:8d}{'':8}{'':8}{'':8}{0:8d}", "D", d + 1))
        parameters.append(_iges_line(f"110,0.,0.,0.,{i + 1}.,1.,1.;".ljust(64) + f"{d:8d}", "P", i + 1))
    terminate = [_iges_line(
        f"S{len(start):7d}G{len(glob):7d}D{len(directory):7d}P{len(parameters):7d}", "T", 1
    )]
    return ("\n".join(start + glob + directory + parameters + terminate) + "\n").encode()


def make_obj(vertices, faces, *, header: str = "") -> bytes:
    lines = [header] if header else []
    lines += [f"v {x} {y} {z}" for x, y, z in vertices]
    lines += ["f " + " ".join(str(i) for i in face) for face in faces]
    return ("\n".join(lines) + "\n").encode()


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 200
ZIP_BYTES = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 200
