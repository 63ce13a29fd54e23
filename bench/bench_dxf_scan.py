"""DXF fast group-code scan throughput (kinds, layers, paper-space flags, block graph).

Builds an ASCII DXF with ezdxf (lines, circles, arcs, polylines, text on several layers, plus blocks with
inserts) and times `features.parsers.dxf.scan_dxf` on it. Target: >= 30 MB/s.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_dxf_scan.py [--entities 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from features.parsers.dxf import scan_dxf  # noqa: E402
from throughput import report_runs, timed_runs  # noqa: E402  (bench/, beside this script)

TARGET_MB_S = 30.0


def make_dxf(entities: int) -> bytes:
    import ezdxf

    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    block = doc.blocks.new("BOLT")
    block.add_circle((0, 0), 1)
    block.add_line((-1, 0), (1, 0))
    for i in range(entities):
        layer = f"LAYER_{i % 12}"
        kind = i % 6
        x, y = (i % 500) * 2.0, (i // 500) * 2.0
        if kind == 0:
            msp.add_line((x, y), (x + 1, y + 1), dxfattribs={"layer": layer})
        elif kind == 1:
            msp.add_circle((x, y), 0.5, dxfattribs={"layer": layer})
        elif kind == 2:
            msp.add_arc((x, y), 0.5, 0, 90, dxfattribs={"layer": layer})
        elif kind == 3:
            msp.add_lwpolyline([(x, y), (x + 1, y), (x + 1, y + 1)], dxfattribs={"layer": layer})
        elif kind == 4:
            msp.add_text("P", dxfattribs={"layer": layer, "insert": (x, y)})
        else:
            msp.add_blockref("BOLT", (x, y), dxfattribs={"layer": layer})
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = make_dxf(args.entities)
    size_mb = len(data) / 1e6
    scan, seconds, cpu = timed_runs(lambda: scan_dxf(data), args.repeat)
    assert scan.entity_count == args.entities, scan.entity_count
    return report_runs(f"DXF scan: {args.entities} entities, {size_mb:.1f} MB, {len(scan.layers)} layers, "
                       f"{args.repeat} runs", size_mb, seconds, cpu, TARGET_MB_S)


if __name__ == "__main__":
    raise SystemExit(main())
