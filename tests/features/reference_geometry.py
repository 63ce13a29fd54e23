"""Bounding boxes computed by calling each parsing library directly (the cross-check of the parsers)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def ezdxf_bbox(path: Path):
    import ezdxf
    from ezdxf import bbox, recover

    data = path.read_bytes()
    if data.startswith(b"AutoCAD Binary DXF"):
        doc = ezdxf.readfile(str(path))
    else:
        doc, _ = recover.readfile(str(path))
    extents = bbox.extents(doc.modelspace(), fast=True)
    return (tuple(extents.extmin), tuple(extents.extmax)) if extents.has_data else None


def trimesh_bbox(path: Path, file_type: str):
    import trimesh

    loaded = trimesh.load(io.BytesIO(path.read_bytes()), file_type=file_type, process=False)
    bounds = np.asarray(loaded.bounds)
    return (tuple(bounds[0]), tuple(bounds[1]))


def occt_bbox(path: Path, fmt: str):
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib
    from OCP.IGESControl import IGESControl_Reader
    from OCP.STEPControl import STEPControl_Reader

    reader = STEPControl_Reader() if fmt == "step" else IGESControl_Reader()
    reader.ReadFile(str(path))
    reader.TransferRoots()
    box = Bnd_Box()
    BRepBndLib.Add_s(reader.OneShape(), box, True)
    lo, hi = box.CornerMin(), box.CornerMax()
    return ((lo.X(), lo.Y(), lo.Z()), (hi.X(), hi.Y(), hi.Z()))


def reference_bbox(path: Path, fmt: str):
    if fmt == "dxf":
        return ezdxf_bbox(path)
    if fmt in ("stl", "obj"):
        return trimesh_bbox(path, fmt)
    return occt_bbox(path, fmt)
