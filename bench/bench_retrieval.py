"""Retrieval benchmark: does a twin of a part (the same part in another form) find its original? v4 against v5.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_retrieval.py [--samples DIR] [--database URL]
        [--vectors 1000000] [--skip-scale-bench] [--direct] [--calibrate]

1. Twins are built in a temporary folder from the shared samples, deterministically (seed 13): every mesh as the
   other mesh format (STL <-> OBJ), every DXF saved by ezdxf in another DXF version, every mesh and every B-rep
   under a random rigid rotation (meshes also with their triangles shuffled, as another writer would order them;
   B-reps rotated with OCP and written as STEP), every mesh scaled x25.4 and
   x0.1, every STEP/IGES B-rep with faces against its own tessellation written as STL at two densities (OCP
   `BRepMesh_IncrementalMesh` at 0.5 % and 0.05 % of the diagonal: not the worker's 0.2 %), plus the real
   same-part pairs the samples hold (trimesh featuretype STL (inches) / STEP (mm), base_interface AP203 / AP214).
2. Originals are ingested through the service path (`analysis_create`, the real parse pool, v4 and v5 vectors
   registered), each twin is queried with `register_vector=False, similar_k=10` (analyze's own path), and
   Recall@1, Recall@5 and MRR are printed per class for v4 and v5 side by side. A result counts as the original
   when it is the original's content or an original with a bit-identical v5 vector (the same geometry stored
   twice among the samples); the list of such groups is printed.
3. `duplicate` precision: over every v5 result labelled `duplicate` (top 10 of every twin query and of every
   original queried against the others), the share that is truly the same part.
4. Baseline: nearest neighbour on `trimesh.comparison.identifier_simple` for the mesh classes (what a user would
   pick instead), in the same run.
5. Descriptor cost: p50/p95 of the v5 descriptor on a 100k-triangle mesh (float32 triangles, as the STL parser
   hands them over).
6. Similarity at `--vectors` random v5-like vectors: our v5 path (index holder search for the candidates +
   match classification) against bare Faiss `IndexFlatIP.search` at the same dimension.

`--direct` skips Django (parses in process, ranks with exact cosine / the v5 matcher): the quick loop used while
tuning the descriptor. `--calibrate` prints the standardisation constants (mean, std) of the raw descriptor
values over the good shared samples.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SEED = 13
CLASSES = ("stl_obj", "dxf_version", "rotation", "scale_25_4", "scale_0_1", "brep_tessellation", "real_pair")
MESH_CLASSES = ("stl_obj", "rotation_mesh", "scale_25_4", "scale_0_1")
GOOD_FOLDERS = ("dxf", "stl", "obj", "step", "iges")
K = 10


@dataclass
class Twin:
    path: Path
    original: Path
    cls: str
    mesh: bool = False  # both sides are meshes (trimesh baseline applies)
    sub: str = ""
    factor: float = 1.0  # the twin's coordinates are the original's times this


# Originals that are the same part (verified: bounding boxes, areas and volumes agree to 0.01 % after the factor),
# with the factor from the file's numbers to true millimetres (the two trimesh STLs are drawn in inches).
SAME_PART = {
    "trimesh__featuretype.STL": ("featuretype", 25.4), "trimesh__featuretype.STEP": ("featuretype", 1.0),
    "trimesh__box.STL": ("box", 25.4), "trimesh__box_sides.STEP": ("box", 1.0),
    "pythonocc__cube_binary.stl": ("unit_cube", 1.0), "trimesh__cube.OBJ": ("unit_cube", 1.0),
    "trimesh__base_interface_AP203.STEP": ("base_interface", 1.0),
    "trimesh__base_interface_AP214.STEP": ("base_interface", 1.0),
}
# Same shape at other sizes (for the precision of `same_shape_other_scale`): cubes. pythonocc__test_ocaf.stp is a
# 100 mm cube, trimesh__20mm-xyz-cube.stl a 20 mm calibration cube with its axis letters embossed on three faces.
SAME_SHAPE = {"featuretype": "featuretype", "box": "box", "unit_cube": "cube", "base_interface": "base_interface",
              "pythonocc__test_ocaf.stp": "cube", "trimesh__20mm-xyz-cube.stl": "cube"}


class Truth:
    """Is a result the same part as a query's original, and at the same size?"""

    def __init__(self, identical: dict[str, set[str]]):
        self.identical = identical  # originals with bit-identical v5 vectors

    def same_part(self, original: str, result: str) -> bool:
        if result == original or result in self.identical.get(original, ()):
            return True
        a, b = SAME_PART.get(original), SAME_PART.get(result)
        return a is not None and b is not None and a[0] == b[0]

    def same_size(self, original: str, twin_factor: float, result: str) -> bool:
        ratio = (SAME_PART.get(original, ("", 1.0))[1] / SAME_PART.get(result, ("", 1.0))[1]) / twin_factor
        return abs(ratio - 1.0) <= 0.02

    def same_shape(self, original: str, result: str) -> bool:
        if self.same_part(original, result):
            return True

        def family(name):
            return SAME_SHAPE.get(SAME_PART[name][0]) if name in SAME_PART else SAME_SHAPE.get(name)

        return family(original) is not None and family(original) == family(result)

    def accepted(self, original: str, names) -> set[str]:
        return {n for n in names if self.same_part(original, n)}


@dataclass
class TwinSet:
    originals: list[Path] = field(default_factory=list)
    twins: list[Twin] = field(default_factory=list)


# ---- twins ------------------------------------------------------------------------------------------------------
def _load_mesh(path: Path):
    import trimesh

    if path.suffix.lower() != ".obj":
        return trimesh.load(str(path), force="mesh", process=False)
    from trimesh.exchange.obj import load_obj

    with open(path, "rb") as handle:  # geometry only: materials would need PIL
        loaded = load_obj(handle, skip_materials=True, split_objects=True, split_groups=True)
    parts = loaded.get("geometry", {}).values() if "geometry" in loaded else [loaded]
    meshes = [trimesh.Trimesh(vertices=p["vertices"], faces=p["faces"], process=False) for p in parts
              if len(p.get("faces", ()))]
    return trimesh.util.concatenate(meshes)


def _rotation(rng) -> np.ndarray:
    import trimesh

    return trimesh.transformations.random_rotation_matrix(rand=rng.random(3))


def _occt_shape(path: Path, fmt: str):
    from features.parsers.step_iges import read_shape

    return read_shape(fmt, str(path))


def _shape_diagonal(shape) -> float:
    from features.parsers.step_iges import bounding_box

    box = bounding_box(shape)
    if box is None:
        return 0.0
    return math.dist(box[0], box[1])


def _has_faces(shape) -> bool:
    from features.parsers.step_iges import count_subshapes

    return count_subshapes(shape)["FACE"] > 0


def _write_tessellation(shape, path: Path, relative: float, angular: float) -> None:
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.BRepTools import BRepTools
    from OCP.StlAPI import StlAPI_Writer

    BRepTools.Clean_s(shape)
    BRepMesh_IncrementalMesh(shape, relative * _shape_diagonal(shape), False, angular, False)
    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    writer.Write(shape, str(path))
    BRepTools.Clean_s(shape)


def _write_rotated_step(shape, path: Path, matrix: np.ndarray) -> None:
    from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform
    from OCP.gp import gp_Trsf
    from OCP.STEPControl import STEPControl_AsIs, STEPControl_Writer

    trsf = gp_Trsf()
    r = matrix[:3, :3]
    trsf.SetValues(*r[0].tolist(), 0.0, *r[1].tolist(), 0.0, *r[2].tolist(), 0.0)
    moved = BRepBuilderAPI_Transform(shape, trsf, True).Shape()
    writer = STEPControl_Writer()
    writer.Transfer(moved, STEPControl_AsIs)
    writer.Write(str(path))


class _QuietStdout:
    """OpenCASCADE's writers print statistics to fd 1; keep the report readable."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)


def build_twins(samples: Path, out: Path) -> TwinSet:
    with _QuietStdout():
        return _build_twins(samples, out)


def _build_twins(samples: Path, out: Path) -> TwinSet:
    import ezdxf
    from ezdxf import recover

    rng = np.random.default_rng(SEED)
    result = TwinSet()
    for folder in GOOD_FOLDERS:
        result.originals.extend(sorted(p for p in (samples / folder).iterdir() if p.is_file()))
    for original in result.originals:
        stem = original.stem.replace(".", "_")
        folder = original.parent.name
        if folder in ("stl", "obj"):
            mesh = _load_mesh(original)
            other = "obj" if folder == "stl" else "stl"
            target = out / f"{stem}.as.{other}"
            mesh.export(str(target), file_type=other)
            result.twins.append(Twin(target, original, "stl_obj", mesh=True))
            rotated = mesh.copy()
            rotated.apply_transform(_rotation(rng))
            # another writer would also order the triangles differently: shuffle them, so that the seeded
            # sample points land elsewhere on the surface (the twin is not the same sample, rotated)
            rotated.faces = rotated.faces[rng.permutation(len(rotated.faces))]
            target = out / f"{stem}.rotated.{folder}"
            rotated.export(str(target), file_type=folder)
            result.twins.append(Twin(target, original, "rotation", mesh=True, sub="mesh"))
            for factor, cls in ((25.4, "scale_25_4"), (0.1, "scale_0_1")):
                scaled = mesh.copy()
                scaled.apply_scale(factor)
                target = out / f"{stem}.{cls}.stl"
                scaled.export(str(target), file_type="stl")
                result.twins.append(Twin(target, original, cls, mesh=True, factor=factor))
        elif folder in ("step", "iges"):
            shape = _occt_shape(original, folder)
            if not _has_faces(shape):
                continue
            for name, relative, angular in (("coarse", 0.005, 0.5), ("fine", 0.0005, 0.2)):
                target = out / f"{stem}.tess_{name}.stl"
                _write_tessellation(_occt_shape(original, folder), target, relative, angular)
                result.twins.append(Twin(target, original, "brep_tessellation", sub=name))
            target = out / f"{stem}.rotated.step"
            _write_rotated_step(_occt_shape(original, folder), target, _rotation(rng))
            result.twins.append(Twin(target, original, "rotation", sub="brep"))
        elif folder == "dxf":
            data = original.read_bytes()
            if data.startswith(b"AutoCAD Binary DXF"):
                doc = ezdxf.readfile(str(original))
            else:
                doc, _ = recover.read(io.BytesIO(data))
            doc.dxfversion = "AC1027" if doc.dxfversion == "AC1032" else "AC1032"
            target = out / f"{stem}.{doc.dxfversion}.dxf"
            doc.saveas(str(target))
            result.twins.append(Twin(target, original, "dxf_version"))
    by_name = {p.name: p for p in result.originals}
    for first, second in (("trimesh__featuretype.STL", "trimesh__featuretype.STEP"),
                          ("trimesh__box.STL", "trimesh__box_sides.STEP"),
                          ("pythonocc__cube_binary.stl", "trimesh__cube.OBJ"),
                          ("trimesh__base_interface_AP203.STEP", "trimesh__base_interface_AP214.STEP")):
        for query, answer in ((first, second), (second, first)):
            if query in by_name and answer in by_name:  # query coordinates = answer coordinates x factor
                result.twins.append(Twin(by_name[query], by_name[answer], "real_pair",
                                         factor=SAME_PART[answer][1] / SAME_PART[query][1]))
    return result


# ---- ranking ----------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    twin: Twin
    ranks: dict[str, int | None]  # version -> 1-based rank of the original within top K (None: missing)
    kinds: list[tuple[str, bool]] = field(default_factory=list)  # v5 (kind, same part) of the top-K results


def _rank(keys: list[str], accepted: set[str]) -> int | None:
    for position, key in enumerate(keys, 1):
        if key in accepted:
            return position
    return None


def summarise(outcomes: list[Outcome], versions: tuple[str, ...], baseline: dict[int, int | None]) -> None:
    rows = defaultdict(list)
    for index, outcome in enumerate(outcomes):
        cls = outcome.twin.cls
        rows[cls].append(index)
        rows["all"].append(index)
        if outcome.twin.cls == "rotation":
            rows[f"rotation ({outcome.twin.sub})"].append(index)
        if outcome.twin.cls == "brep_tessellation":
            rows[f"brep_tessellation ({outcome.twin.sub})"].append(index)

    def metrics(indices, getter):
        ranks = [getter(i) for i in indices]
        r1 = sum(1 for r in ranks if r == 1) / len(ranks)
        r5 = sum(1 for r in ranks if r is not None and r <= 5) / len(ranks)
        mrr = sum(1.0 / r for r in ranks if r is not None) / len(ranks)
        return r1, r5, mrr

    header = f"{'class':34s} {'n':>4s} " + " ".join(
        f"{v + ' R@1':>9s} {v + ' R@5':>9s} {v + ' MRR':>9s}" for v in versions) + f" {'trimesh R@1':>12s}"
    print(header)
    order = [c for c in CLASSES if c in rows] + sorted(k for k in rows if "(" in k) + ["all"]
    for name in order:
        indices = rows[name]
        cells = []
        for version in versions:
            r1, r5, mrr = metrics(indices, lambda i, v=version: outcomes[i].ranks[v])
            cells.append(f"{r1:9.3f} {r5:9.3f} {mrr:9.3f}")
        mesh_indices = [i for i in indices if i in baseline]
        base = (f"{metrics(mesh_indices, lambda i: baseline[i])[0]:12.3f} (n={len(mesh_indices)})"
                if mesh_indices else f"{'-':>12s}")
        print(f"{name:34s} {len(indices):4d} " + " ".join(cells) + " " + base)


def trimesh_baseline(twins: TwinSet, outcomes: list[Outcome]) -> dict[int, int | None]:
    """Rank of the original by L2 nearest neighbour on identifier_simple, over the mesh originals."""
    from trimesh.comparison import identifier_simple

    mesh_originals = [p for p in twins.originals if p.parent.name in ("stl", "obj")]
    idents = np.array([identifier_simple(_load_mesh(p)) for p in mesh_originals])
    out: dict[int, int | None] = {}
    for index, outcome in enumerate(outcomes):
        twin = outcome.twin
        if not twin.mesh:
            continue
        query = identifier_simple(_load_mesh(twin.path))
        distances = np.sqrt(((idents - query) ** 2).sum(axis=1))
        order = np.argsort(distances, kind="stable")[:K]
        names = [mesh_originals[i].name for i in order]
        out[index] = (names.index(twin.original.name) + 1) if twin.original.name in names else None
    return out


def descriptor_cost(runs: int = 200) -> None:
    """The v5 descriptor on 100k float32 triangles (as the STL parser hands them over), interleaved with the STL
    parser's own measurement pass (`mesh_measures`: bbox, area, closedness, volume) on the same triangles as the
    in-run reference, so that load from other processes on a shared machine hits both alike. Twice: a sphere
    (equal principal variances: the handedness stops before its third moments) and the same sphere stretched
    into an ellipsoid (distinct principal variances: the third moments are computed, the worst case)."""
    import trimesh

    from features.descriptors import describe_triangles
    from features.parsers.mesh_document import mesh_measures

    sphere = trimesh.creation.uv_sphere(radius=25.0, count=[224, 226])
    triangles = np.ascontiguousarray(sphere.triangles[:100_000], dtype=np.float32)
    stretched = np.ascontiguousarray(triangles * np.array([1.0, 0.7, 0.4], dtype=np.float32))
    for label, mesh in (("sphere", triangles), ("ellipsoid, third moments computed", stretched)):
        describe_triangles(mesh)
        mesh_measures(mesh)
        ours, reference = [], []
        for _ in range(runs):
            started = time.perf_counter()
            describe_triangles(mesh, source="mesh", units_assumed=True)
            ours.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            mesh_measures(mesh)
            reference.append((time.perf_counter() - started) * 1000)
        ours.sort()
        reference.sort()

        def p95(values):
            return values[min(len(values) - 1, int(0.95 * len(values)))]

        print(f"v5 descriptor on {len(mesh)} triangles ({label}; float32, {runs} runs): p50 "
              f"{statistics.median(ours):.1f} ms, p95 {p95(ours):.1f} ms (goal <= 20 ms); the STL parser's measures "
              f"on the same triangles: p50 {statistics.median(reference):.1f} ms, p95 {p95(reference):.1f} ms "
              f"(descriptor / measures at p50: {statistics.median(ours) / statistics.median(reference):.1f}x)")


def v5_like_vectors(count: int, rng) -> np.ndarray:
    """`count` v5 vectors of random parts: raw descriptor values drawn around the measured means, RMS radii over
    six decades; standardised exactly as `v5_vector` does (vectorised here; checked against it on a few rows)."""
    from features.descriptors.shape import SHAPE_NAMES, SIZE_NAMES
    from features.extractors import dimension, v5_vector
    from features.extractors.v5 import (COMPLETION_RADIUS, SIZE_LOG_CLIP, SIZE_WEIGHT, STANDARDISATION, STD_FLOOR,
                                        Z_CLIP)

    means = np.array([STANDARDISATION[n][0] for n in SHAPE_NAMES])
    stds = np.array([STANDARDISATION[n][1] for n in SHAPE_NAMES])
    raw = means + stds * rng.standard_normal((count, len(means)))
    radii = 10.0 ** rng.uniform(-1, 5, count)
    sizes = np.stack([radii, 3 * radii, 2 * radii, radii], axis=1)
    z = np.clip((raw - means) / np.maximum(stds, STD_FLOOR), -Z_CLIP, Z_CLIP)
    size = SIZE_WEIGHT * np.clip(np.log10(sizes), -SIZE_LOG_CLIP, SIZE_LOG_CLIP)
    completion = np.sqrt(np.maximum(0.0, COMPLETION_RADIUS**2 - (z**2).sum(axis=1) - (size**2).sum(axis=1)))
    vectors = np.hstack([z, size, completion[:, None]]).astype(np.float32)
    assert vectors.shape[1] == dimension("v5")
    for row in range(3):
        expected = v5_vector({"kind": "surface", "shape": dict(zip(SHAPE_NAMES, raw[row])),
                              "size_mm": dict(zip(SIZE_NAMES, sizes[row]))})
        assert np.allclose(vectors[row], expected, atol=1e-5)
    return vectors


def similarity_scale(count: int, queries: int = 200) -> None:
    """Our v5 path (holder search of the candidates + match classification) vs bare Faiss, same dimension."""
    from bench.bench_vector_search import interleaved
    from features.extractors import dimension
    from features.extractors.v5_match import candidate_count, v5_matches
    from vectors.index.faiss_store import IndexConfig
    from vectors.index.holder import ChangeSet, IndexHolder, SourceState
    from vectors.index.vector_math import normalized

    dim = dimension("v5")
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    vectors = v5_like_vectors(count, rng)
    ids = np.arange(1, count + 1, dtype=np.int64)

    class Source:
        def state(self, feature_version):
            return SourceState(generation=1, epoch=0, degraded=False, snapshot_generation=None)

        def load_all(self, feature_version):
            return ChangeSet(1, np.empty(0, np.int64), ids, vectors)

        def changes_since(self, feature_version, generation):
            return ChangeSet(1, np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, dim), np.float32))

        def report_degraded(self, feature_version, reason, error):
            raise RuntimeError(f"unexpected degradation in the benchmark: {reason}: {error}")

    holder = IndexHolder(Source(), snapshot_root=Path("/nonexistent"), dimension_of=lambda v: dim,
                         config=IndexConfig(hnsw_threshold=10**12))
    holder.prepare("v5")
    bare = holder.loaded()["v5"].store.index  # the very index our path searches
    print(f"  {count} v5 vectors built and indexed in {time.perf_counter() - started:.1f} s")
    picks = rng.integers(0, count, queries)
    query_rows = vectors[picks] + rng.normal(0, 0.01, (queries, dim)).astype(np.float32)
    candidates = candidate_count(K)

    def ours(q):
        hits = holder.search("v5", q, candidates).hits[0]
        return v5_matches(q[0], vectors[hits.ids - 1], mode="any")[:K]

    times = interleaved({"ours": ours, "faiss": lambda q: bare.search(normalized(q), K)},
                        [q[None, :] for q in query_rows])
    print(f"v5 similarity at {count} vectors (dim {dim}, k={K}, {candidates} candidates re-ranked and labelled): "
          f"ours {times['ours'] * 1000:.2f} ms, bare Faiss IndexFlatIP {times['faiss'] * 1000:.2f} ms, ratio "
          f"{times['ours'] / times['faiss']:.2f} (goal <= 1.3)")


# ---- the two ways of running the queries ------------------------------------------------------------------------
def _groups(v5_by_original: dict[str, tuple]) -> dict[str, set[str]]:
    """Originals with bit-identical v5 vectors are the same geometry: each accepts the others as its answer
    (not files without describable geometry, whose shape slots are all 0)."""
    from features.extractors.v5 import SHAPE_DIM

    by_vector = defaultdict(set)
    for name, vector in v5_by_original.items():
        if any(vector[:SHAPE_DIM]):
            by_vector[vector].add(name)
    return {name: by_vector.get(vector, {name}) for name, vector in v5_by_original.items()}


def run_direct(twins: TwinSet, versions) -> tuple[list[Outcome], list[tuple[str, bool]]]:
    from features.extractors import extract_features
    from features.extractors.v5_match import v5_matches
    from features.parsers.format_parsers import parse_format
    from features.parsers.sniff import sniff_format
    from vectors.index.vector_math import normalized

    def parse(path: Path):
        data = path.read_bytes()
        return parse_format(sniff_format(data, path.name), data)

    originals = {}
    for path in twins.originals:
        try:
            originals[path.name] = parse(path)
        except Exception as exc:  # a sample the parsers refuse is left out of the benchmark
            print(f"  original {path.name} skipped: {exc}")
    names = list(originals)
    matrices = {v: np.array([extract_features(originals[n], v) for n in names], np.float32) for v in versions}
    truth = Truth(_groups({n: tuple(matrices["v5"][i].tolist()) for i, n in enumerate(names)}))
    outcomes, labels = [], []
    for twin in twins.twins:
        if twin.original.name not in originals:
            continue
        try:
            document = originals[twin.path.name] if twin.cls == "real_pair" else parse(twin.path)
        except Exception as exc:
            print(f"  twin {twin.path.name} refused by the parser: {exc}")
            continue
        query_name = twin.path.name if twin.cls == "real_pair" else None
        kept = [n for n in names if n != query_name]
        mask = np.array([n != query_name for n in names])
        accepted = truth.accepted(twin.original.name, kept)
        ranks = {}
        for version in versions:
            query = np.array(extract_features(document, version), np.float32)
            if version == "v5":
                found = v5_matches(query, matrices[version][mask], mode="any")[:K]
                keys = [kept[m.index] for m in found]
                labels.extend(_label(truth, twin.original.name, twin.factor, twin.path.name, kept[m.index], m.kind,
                                     m.shape_distance, m.scale_factor) for m in found)
            else:
                scores = normalized(matrices[version][mask]) @ normalized(query[None, :])[0]
                order = np.lexsort((np.arange(len(kept)), -scores))[:K]
                keys = [kept[i] for i in order]
            ranks[version] = _rank(keys, accepted)
        outcomes.append(Outcome(twin, ranks))
    # originals against each other: different samples labelled duplicate
    for i, name in enumerate(names):
        mask = np.arange(len(names)) != i
        kept = [n for n, m in zip(names, mask) if m]
        for m in v5_matches(matrices["v5"][i], matrices["v5"][mask], mode="any")[:K]:
            labels.append(_label(truth, name, 1.0, name, kept[m.index], m.kind, m.shape_distance, m.scale_factor))
    return outcomes, labels


def _label(truth: Truth, original: str, factor: float, query: str, result: str, kind: str, distance: float,
           scale: float) -> dict:
    same_part = truth.same_part(original, result)
    return {"kind": kind, "same_part": same_part, "same_size": same_part and truth.same_size(original, factor, result),
            "same_shape": truth.same_shape(original, result),
            "query": query, "result": result, "distance": distance, "scale": scale}


def run_service(twins: TwinSet, versions, database_url: str) -> tuple[list[Outcome], list[dict]]:
    """Originals registered and twins queried through `analysis_create` (the parse pool, the feature cache, the
    index and the similarity selector, as the analyze endpoint runs them)."""
    from bench.vector_bench_env import bench_environment, drop_database

    bench_environment(database_url)
    from analysis.services import analysis_create
    from cadml_site.errors import DomainError
    from vectors.selectors import vector_get, vector_similarity_search

    sha_of = {}
    started = time.perf_counter()
    for path in twins.originals:
        data = path.read_bytes()
        try:
            for version in versions:
                analysis_create(data=data, name=path.name, feature_version=version, register_vector=True,
                                classify=False, similar_k=0)
            sha_of[path.name] = hashlib.sha256(data).hexdigest()
        except DomainError as exc:
            print(f"  original {path.name} skipped: {exc.code}: {exc.message}")
    print(f"  {len(sha_of)} originals ingested through analyze in {time.perf_counter() - started:.1f} s")
    name_of = {sha: name for name, sha in sha_of.items()}
    truth = Truth(_groups({name: tuple(vector_get(key=sha, feature_version="v5").as_array().tolist())
                           for name, sha in sha_of.items()}))
    outcomes, labels = [], []
    for twin in twins.twins:
        if twin.original.name not in sha_of:
            continue
        data = twin.path.read_bytes()
        own = hashlib.sha256(data).hexdigest()
        ranks = {}
        try:
            for version in versions:
                analysis = analysis_create(data=data, name=twin.path.name, feature_version=version,
                                           register_vector=False, classify=False, similar_k=K + 1)
                # a real pair's query is itself a registered original: it is its own `exact` answer, left out
                results = [r for r in analysis.sections["similar"]["results"] if r["key"] != own][:K]
                names = [name_of.get(r["key"], r["key"]) for r in results]
                ranks[version] = _rank(names, truth.accepted(twin.original.name, names))
                if version == "v5":
                    labels.extend(_label(truth, twin.original.name, twin.factor, twin.path.name, n, r["match"],
                                         r["shape_distance"], r["scale_factor"]) for n, r in zip(names, results))
        except DomainError as exc:
            print(f"  twin {twin.path.name} refused: {exc.code}: {exc.message}")
            continue
        outcomes.append(Outcome(twin, ranks))
    for name, sha in sha_of.items():
        for r in vector_similarity_search(feature_version="v5", key=sha, k=K)["results"]:
            other = name_of.get(r["key"], r["key"])
            labels.append(_label(truth, name, 1.0, name, other, r["match"], r["shape_distance"], r["scale_factor"]))
    drop_database(database_url)
    return outcomes, labels


def report_labels(labels: list[dict]) -> None:
    kinds = defaultdict(int)
    for label in labels:
        kinds[label["kind"]] += 1
    print(f"v5 match kinds over all top-{K} lists (twin queries + every original against the others): {dict(kinds)}")
    duplicates = [label for label in labels if label["kind"] == "duplicate"]
    if duplicates:
        right = sum(1 for label in duplicates if label["same_size"])
        print(f"duplicate precision (same part, same size): {right}/{len(duplicates)} = {right / len(duplicates):.3f}")
    scaled = [label for label in labels if label["kind"] == "same_shape_other_scale"]
    if scaled:
        right = sum(1 for label in scaled if label["same_shape"] and not label["same_size"])
        print(f"same_shape_other_scale precision (same shape, other size): {right}/{len(scaled)} = "
              f"{right / len(scaled):.3f}")
    for label in labels:
        if label["kind"] in ("duplicate", "same_shape_other_scale") and not (
                label["same_size"] if label["kind"] == "duplicate" else label["same_shape"] and not label["same_size"]):
            print(f"  wrong {label['kind']}: {label['query']} -> {label['result']} (shape distance "
                  f"{label['distance']:.3f}, scale {label['scale']:.4f})")
    same = sorted(label["distance"] for label in labels if label["same_part"])
    other = sorted(label["distance"] for label in labels if not label["same_part"])
    if same and other:
        print(f"v5 shape distance of same-part results: p50 {same[len(same) // 2]:.3f}, p95 "
              f"{same[int(0.95 * len(same))]:.3f}, max {same[-1]:.3f}; of different parts in the top {K}: min "
              f"{other[0]:.3f}, p01 {other[len(other) // 100]:.3f}, p05 {other[len(other) // 20]:.3f}")
    missed = [label for label in labels if label["same_part"] and label["kind"] == "similar"]
    print(f"same-part results labelled similar (missed duplicate / same shape): {len(missed)} of "
          f"{sum(1 for label in labels if label['same_part'])}")
    for label in missed:
        print(f"  missed: {label['query']} -> {label['result']} (shape distance {label['distance']:.3f})")


def calibrate(samples: Path) -> None:
    from features.descriptors.shape import SHAPE_NAMES
    from features.parsers.format_parsers import parse_format
    from features.parsers.sniff import sniff_format

    rows = []
    for folder in GOOD_FOLDERS:
        for path in sorted((samples / folder).iterdir()):
            data = path.read_bytes()
            shape = parse_format(sniff_format(data, path.name), data).shape
            if shape["kind"] != "empty":
                rows.append([shape["shape"][n] for n in SHAPE_NAMES])
    matrix = np.array(rows)
    print(f"# over {len(rows)} describable good samples")
    for name, mean, std in zip(SHAPE_NAMES, matrix.mean(axis=0), matrix.std(axis=0)):
        print(f'    "{name}": ({mean:.6g}, {std:.6g}),')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR", str(ROOT.parent / "shared" /
                                                                                  "cad-samples")))
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a temporary file, default) or a postgres:// URL of a database to create")
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--skip-scale-bench", action="store_true")
    parser.add_argument("--direct", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--cost-only", action="store_true", help="only the descriptor cost")
    args = parser.parse_args()
    samples = Path(args.samples)
    if args.calibrate:
        calibrate(samples)
        return 0
    if args.cost_only:
        descriptor_cost()
        return 0
    folder = Path(tempfile.mkdtemp(prefix="cadml-retrieval-bench-"))
    try:
        started = time.perf_counter()
        twins = build_twins(samples, folder)
        counts = defaultdict(int)
        for twin in twins.twins:
            counts[twin.cls] += 1
        print(f"{len(twins.originals)} originals, {len(twins.twins)} twins ({dict(counts)}), built in "
              f"{time.perf_counter() - started:.1f} s in {folder}")
        versions = ("v4", "v5")
        if args.direct:
            outcomes, labels = run_direct(twins, versions)
        else:
            database = args.database
            if database == "sqlite":
                database = f"sqlite:///{folder / 'bench.sqlite3'}"
            outcomes, labels = run_service(twins, versions, database)
        baseline = trimesh_baseline(twins, outcomes)
        summarise(outcomes, versions, baseline)
        report_labels(labels)
        misses = [o for o in outcomes if o.ranks["v5"] != 1]
        for o in misses:
            print(f"  v5 miss: {o.twin.cls:18s} {o.twin.path.name} -> rank {o.ranks['v5']}")
        descriptor_cost()
        if not args.skip_scale_bench:
            similarity_scale(args.vectors)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
