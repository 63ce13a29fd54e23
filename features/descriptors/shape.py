"""The geometric shape descriptor behind feature version v5 (Django-free, numpy only).

One description for every representation: a surface given as triangles (STL, OBJ, tessellated STEP/IGES
B-reps) or a set of curves given as straight segments (DXF drawings, wire-only IGES/STEP, flattened with a
tolerance relative to the part's size). Everything that can be computed exactly from the elements is:

- the area- (or length-) weighted centroid and covariance of the surface (curves), closed-form per triangle
  (segment), so they do not depend on how finely a flat face is tessellated;
- from the covariance: the principal variances λ1 ≥ λ2 ≥ λ3, which give the scale-free ratios
  sqrt(λ2/λ1), sqrt(λ3/λ1) and the size figures (RMS radius, principal extents sqrt(12 λi) in millimetres);
- the orientation tensor of the unit normals (tangents for curves), weighted by area (length): its
  eigenvalues say how much of the surface faces one, two or three directions (a plate, a tube, a ball);
- for a closed surface, compactness A^1.5 / (6 sqrt(pi) V) (1 for a sphere), as a logarithm.

Distributions use a fixed, seeded, stratified sample of points (area-weighted positions along the
cumulative area, barycentric coordinates from a seeded generator), so the same elements always give the same
numbers bit for bit:

- D2 (Osada et al. 2002): distances between random point pairs, divided by the exact RMS pair distance
  sqrt(2 tr Σ) (the mean of the sample moves with the sample; the RMS is closed-form), as a histogram with
  linear (soft) binning;
- D1: distances from the exact centroid, divided by the RMS radius sqrt(tr Σ), soft histogram.

All of it is invariant to translation, rotation, reflection and uniform scale; the size figures carry the
scale.

Handedness (`handedness`, outside the shape block, so that it never moves a v5 vector): the orientation of the
principal frame once each axis is pointed along its positive skewness, i.e. the sign of det[e1 e2 e3] with
each principal axis e_i chosen so that the third central moment ∫ ((x - c)·e_i)^3 is positive. The third moments
are closed-form per triangle (∫ f^3 dA = A/10 h3(f_a, f_b, f_c) for a linear f, h3 the complete homogeneous
polynomial of degree 3) or segment (L/4 h3(f_a, f_b)), so, like the covariance, they do not depend on how a flat
face is cut. A rotation, translation or uniform scale keeps the figure; a reflection flips it. It is 0
(undetermined) when two principal variances are within HANDEDNESS_GAP of each other (relative to λ1: the axes
are not defined) or when the normalised skewness |m3_i| / λ_i^1.5 along any axis is below HANDEDNESS_SKEW: a part
with a mirror plane (its mirror image is itself), any flat part or drawing (a rotation turns it over), and
chiral parts whose odd moments happen to vanish. 0 means "cannot tell", never "achiral".

The result is a JSON-safe dict stored in the parsed summary (`CadDocument.shape`); feature version v5
standardises it into a vector (`features.extractors.v5`).
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any

import numpy as np

DESCRIPTOR_SCHEMA = 1
SEED = 0x5EED_CAD5
SAMPLES = 4096
PAIRS = 32768
D2_BINS = 16
D2_RANGE = 2.4  # in units of the RMS pair distance
D1_BINS = 8
D1_RANGE = 2.4  # in units of the RMS radius
CLOSURE_TOLERANCE = 1e-5
SPHERE_COMPACTNESS = 6.0 * math.sqrt(math.pi)  # A^1.5 / V of a sphere
HANDEDNESS_GAP = 0.02  # (λi - λi+1) / λ1 below this: the principal axes are not defined
HANDEDNESS_SKEW = 0.02  # |m3_i| / λi^1.5 below this along any axis: the sign of the skewness is not defined

SHAPE_NAMES: tuple[str, ...] = (
    "ev_ratio_2",
    "ev_ratio_3",
    *(f"d2_{i + 1:02d}" for i in range(D2_BINS)),
    *(f"d1_{i + 1:02d}" for i in range(D1_BINS)),
    "orient_1",
    "orient_3",
    "closed",
    "log_compactness",
    "curve_set",
)
SIZE_NAMES: tuple[str, ...] = ("rms_radius", "extent_1", "extent_2", "extent_3")

KIND_SURFACE = "surface"
KIND_CURVES = "curves"
KIND_EMPTY = "empty"


class DescriptorError(ValueError):
    """The elements cannot be described (non-finite coordinates)."""


def _soft_histogram(values: np.ndarray, bins: int, upper: float, work=None) -> np.ndarray:
    """Histogram of `values` over [0, upper) with linear binning (each value split between its two nearest
    bin centres), normalised to sum 1; values beyond the range go to the last bin.

    Computed in place in three arrays of len(values): `work` (two float64 and one int64 array of that length,
    overwritten) or fresh ones (a fresh temporary of this size costs page faults that dominate the arithmetic)."""
    width = upper / bins
    if work is None:
        t = values / width
        index = np.empty(values.shape, dtype=np.int64)
        weight = None
    else:
        t = np.divide(values, width, out=work[0])
        weight, index = work[1], work[2]
    t -= 0.5
    np.clip(t, 0.0, bins - 1.0, out=t)
    np.copyto(index, t, casting="unsafe")  # t >= 0: truncation is the floor
    t -= index  # the fraction towards the upper bin
    lower = np.bincount(index, weights=np.subtract(1.0, t, out=weight), minlength=bins)
    index += 1
    np.minimum(index, bins - 1, out=index)  # the last bin's upper neighbour is itself
    hist = lower + np.bincount(index, weights=t, minlength=bins)
    return hist[:bins] / max(1, values.size)


_WORKSPACE = threading.local()  # per thread: PAIRS-long scratch arrays reused from one descriptor to the next


def _pair_buffers() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three float64 and one int64 scratch arrays of PAIRS values."""
    buffers = getattr(_WORKSPACE, "pairs", None)
    if buffers is None:
        buffers = _WORKSPACE.pairs = (np.empty(PAIRS), np.empty(PAIRS), np.empty(PAIRS),
                                      np.empty(PAIRS, dtype=np.int64))
    return buffers


@functools.cache
def _seeded_draws(blocks: int) -> tuple[np.ndarray, ...]:
    """Everything a descriptor draws from its generator, `np.random.default_rng(SEED)`: `blocks` arrays of SAMPLES
    uniform numbers (the sample's positions along the cumulative measure, then, for triangles, the two barycentric
    coordinates), then D2's two arrays of PAIRS point indices in [0, SAMPLES). A descriptor's draws never depend on
    its elements (the sample always has SAMPLES points), so they are the same on every call: drawn once per process
    and shared read-only, the very numbers a new generator gives (a tenth of a small part's descriptor was drawing
    them)."""
    rng = np.random.default_rng(SEED)
    drawn = [rng.random(SAMPLES) for _ in range(blocks)]
    drawn += [rng.integers(0, SAMPLES, PAIRS), rng.integers(0, SAMPLES, PAIRS)]
    for array in drawn:
        array.flags.writeable = False
    return tuple(drawn)


@functools.cache
def _sample_offsets() -> np.ndarray:
    """`arange(SAMPLES) + jitter`: the stratified sample's positions in units of one stratum (the first draw), computed
    once per process and shared read-only (a descriptor scales them by its own stratum width)."""
    offsets = np.arange(SAMPLES) + _seeded_draws(3)[0]  # the jitter: the same first draw for triangles and segments
    offsets.flags.writeable = False
    return offsets


@functools.cache
def _barycentric_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights of a triangle's corners a, b, c for each sampled point, `1 - r1`, `r1 (1 - r2)` and `r1 r2` with
    `r1 = sqrt(u1)` (the second and third draws): the very products `(1 - r1) a + r1 (1 - r2) b + r1 r2 c` takes
    first, evaluated left to right, so the points are bit for bit those computed in full. Once per process, read-only."""
    _jitter, u1, r2, *_pairs = _seeded_draws(3)
    r1 = np.sqrt(u1)
    weights = (1.0 - r1, r1 * (1.0 - r2), r1 * r2)
    for array in weights:
        array.flags.writeable = False
    return weights


def _principal(cov: np.ndarray) -> np.ndarray:
    """Principal variances, descending, never negative."""
    eigenvalues = np.linalg.eigvalsh((cov + cov.T) / 2.0)[::-1]
    return np.clip(eigenvalues, 0.0, None)


def _distributions(points: np.ndarray, centroid: np.ndarray, trace: float,
                   pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """D2 and D1 histograms of (3, SAMPLES) points (one contiguous row per axis: no per-row reductions), D2 over the
    point pairs `pairs` (two arrays of PAIRS indices)."""
    rms_radius = math.sqrt(trace)
    first, second = pairs
    # the pair arithmetic in place, in scratch arrays kept by the thread (fresh arrays of PAIRS values cost page
    # faults that dominate the arithmetic)
    pair, delta, other, scratch = _pair_buffers()
    pair.fill(0.0)
    radial = np.zeros(points.shape[1])
    for axis in range(3):
        row = np.ascontiguousarray(points[axis])
        np.take(row, first, out=delta, mode="clip")  # the indices are in range: "clip" only skips a buffer
        np.take(row, second, out=other, mode="clip")
        delta -= other
        delta *= delta
        pair += delta
        offset = row - centroid[axis]
        radial += offset * offset
    np.sqrt(pair, out=pair)
    pair /= math.sqrt(2.0) * rms_radius
    radial = np.sqrt(radial) / rms_radius
    return (_soft_histogram(pair, D2_BINS, D2_RANGE, work=(delta, other, scratch)),
            _soft_histogram(radial, D1_BINS, D1_RANGE))


def _finish(
    *,
    kind: str,
    source: str,
    elements: int,
    cov: np.ndarray,
    centroid: np.ndarray,
    points: np.ndarray,
    orientation: np.ndarray,
    closed: bool,
    log_compactness: float,
    mm_per_unit: float,
    units: str | None,
    units_assumed: bool,
    pairs: tuple[np.ndarray, np.ndarray],
    third_moments,
) -> dict[str, Any]:
    lam = _principal(cov)
    trace = float(lam.sum())
    if not (trace > 0.0 and math.isfinite(trace)):
        return empty_descriptor(source=source, reason="degenerate", mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
    d2, d1 = _distributions(points, centroid, trace, pairs)
    orient = np.sort(np.clip(np.linalg.eigvalsh((orientation + orientation.T) / 2.0), 0.0, None))[::-1]
    orient = orient / max(float(orient.sum()), 1e-300)
    values = [
        math.sqrt(lam[1] / lam[0]),
        math.sqrt(lam[2] / lam[0]),
        *d2.tolist(),
        *d1.tolist(),
        float(orient[0]),
        float(orient[2]),
        1.0 if closed else 0.0,
        float(log_compactness),
        1.0 if kind == KIND_CURVES else 0.0,
    ]
    size = [math.sqrt(trace) * mm_per_unit, *(math.sqrt(12.0 * float(v)) * mm_per_unit for v in lam)]
    out = _descriptor(kind=kind, source=source, elements=elements, values=values, size=size,
                      mm_per_unit=mm_per_unit, units=units, units_assumed=units_assumed)
    out["handedness"] = _handedness(cov, centroid, third_moments)
    return out


def _handedness(cov: np.ndarray, centroid: np.ndarray, third_moments) -> int:
    """+1 or -1: the orientation of the principal frame pointed along positive skewness; 0 when undetermined.
    `third_moments(axes, offsets)` gives the weighted mean of (x·axes[:, i] - offsets[i])^3 for each i."""
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    order = np.argsort(eigenvalues)[::-1]
    lam, axes = eigenvalues[order], vectors[:, order]
    if not (lam[2] > 0.0 and np.isfinite(lam).all() and np.isfinite(axes).all()):
        return 0
    if (lam[0] - lam[1]) < HANDEDNESS_GAP * lam[0] or (lam[1] - lam[2]) < HANDEDNESS_GAP * lam[0]:
        return 0
    m3 = np.asarray(third_moments(axes, axes.T @ centroid), dtype=np.float64)
    skew = m3 / lam**1.5
    if not np.isfinite(skew).all() or float(np.abs(skew).min()) < HANDEDNESS_SKEW:
        return 0
    sign = float(np.linalg.det(axes)) * float(np.prod(np.sign(skew)))
    return 1 if sign > 0.0 else -1


def _h3_consuming(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The complete homogeneous symmetric polynomial of degree 3 (the sum of all ten monomials a^i b^j c^k,
    i + j + k = 3), nested as h3(a, b, c) = h3(a, b) + c h2(a, b, c), h2(a, b, c) = h2(a, b) + c (a + b + c), with
    three temporaries (fresh ones cost page faults on large arrays); overwrites `a` and `b`."""
    ab = a + b
    h2 = a * a
    out = h2 * a  # h3(a)
    h2 += np.multiply(b, ab, out=a)  # h2(a, b) = a^2 + b (a + b)
    out += np.multiply(b, h2, out=b)  # h3(a, b) = a^3 + b h2(a, b)
    ab += c
    ab *= c
    ab += h2  # h2(a, b, c) = h2(a, b) + c (a + b + c)
    ab *= c
    out += ab  # h3(a, b, c) = h3(a, b) + c h2(a, b, c)
    return out


def _descriptor(*, kind, source, elements, values, size, mm_per_unit, units, units_assumed) -> dict[str, Any]:
    values = [float(v) if math.isfinite(v) else 0.0 for v in values]
    size = [float(v) if math.isfinite(v) else 0.0 for v in size]
    return {
        "schema": DESCRIPTOR_SCHEMA,
        "kind": kind,
        "source": source,
        "elements": int(elements),
        "units": units,
        "units_assumed": bool(units_assumed),
        "mm_per_unit": float(mm_per_unit),
        "shape": dict(zip(SHAPE_NAMES, values)),
        "size_mm": dict(zip(SIZE_NAMES, size)),
        "handedness": 0,
    }


def empty_descriptor(*, source: str, reason: str, mm_per_unit: float = 1.0, units: str | None = None,
                     units_assumed: bool = True) -> dict[str, Any]:
    """The descriptor of a file with no describable geometry (text only, an ACIS body, a single point)."""
    out = _descriptor(kind=KIND_EMPTY, source=source, elements=0, values=[0.0] * len(SHAPE_NAMES),
                      size=[0.0] * len(SIZE_NAMES), mm_per_unit=mm_per_unit, units=units,
                      units_assumed=units_assumed)
    out["reason"] = reason
    return out


def _centred(coordinates: np.ndarray) -> np.ndarray:
    """float64 copy moved to the bounding-box centre (small operands: little cancellation in the moments)."""
    data = np.asarray(coordinates, dtype=np.float64)
    flat = data.reshape(-1, 3)
    if not np.isfinite(flat).all():
        raise DescriptorError("non-finite coordinates")
    centre = (flat.min(axis=0) + flat.max(axis=0)) / 2.0
    return data - centre


def _columns(triangles: np.ndarray, dtype) -> np.ndarray:
    """(9, n) contiguous rows (vertex-major: a.x, a.y, a.z, b.x, ...) of (n, 3, 3) triangles, moved to the
    bounding-box centre, so that every later pass runs over contiguous rows."""
    n = triangles.shape[0]
    # always a copy: for one triangle the transposed view is already contiguous, and `ascontiguousarray` returned the
    # caller's array itself (read-only from a binary STL's buffer; written into below)
    rows = np.array(triangles.reshape(n, 9).T, dtype=dtype, order="C", copy=True)
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise DescriptorError("non-finite coordinates")
    lo3, hi3 = lo.reshape(3, 3).min(axis=0), hi.reshape(3, 3).max(axis=0)
    rows -= np.tile((lo3 + hi3) / 2.0, 3)[:, None].astype(dtype)
    return rows


def _weighted_outer(weight: np.ndarray, *blocks: np.ndarray) -> np.ndarray:
    """Σ_n weight[n] Σ_blocks x[:, n] x[:, n]ᵀ for (3, n) blocks, as dot products of contiguous rows through one
    reused buffer (OpenBLAS's matrix product is an order of magnitude slower for this long, thin shape, and fresh
    temporaries cost page faults)."""
    out = np.zeros((3, 3))
    buffer = np.empty_like(weight)
    for block in blocks:
        for i in range(3):
            np.multiply(block[i], weight, out=buffer)
            for j in range(i, 3):
                out[i, j] += float(np.dot(buffer, block[j]))
    out[1, 0], out[2, 0], out[2, 1] = out[0, 1], out[0, 2], out[1, 2]  # symmetric (np.triu built masks each call)
    return out


def describe_triangles(
    triangles: np.ndarray,
    *,
    source: str = "mesh",
    mm_per_unit: float = 1.0,
    units: str | None = None,
    units_assumed: bool = False,
) -> dict[str, Any]:
    """Descriptor of a triangle surface given as an (n, 3, 3) array (vertex, axis), any float dtype."""
    array = np.asarray(triangles)
    if array.ndim != 3 or array.shape[1:] != (3, 3) or array.shape[0] == 0:
        return empty_descriptor(source=source, reason="no_triangles", mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
    # float32 input (binary STL) is described in float32 (half the memory traffic; sums of products are taken
    # in float64), and again in float64 if a product overflowed float32
    dtype = np.float32 if array.dtype == np.float32 else np.float64
    with np.errstate(all="ignore"):
        out = _describe_columns(_columns(array, dtype), source=source, mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
        if out["kind"] == KIND_EMPTY and dtype == np.float32:
            out = _describe_columns(_columns(array, np.float64), source=source, mm_per_unit=mm_per_unit,
                                    units=units, units_assumed=units_assumed)
    return out


def _describe_columns(rows: np.ndarray, *, source, mm_per_unit, units, units_assumed) -> dict[str, Any]:
    a, b, c = rows[0:3], rows[3:6], rows[6:9]
    e1, e2 = b - a, c - a
    cross = np.empty_like(a)
    np.subtract(e1[1] * e2[2], e1[2] * e2[1], out=cross[0])
    np.subtract(e1[2] * e2[0], e1[0] * e2[2], out=cross[1])
    np.subtract(e1[0] * e2[1], e1[1] * e2[0], out=cross[2])
    del e1, e2
    double_area = np.sqrt(cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2])
    # zero-area triangles stay in place with weight 0 (no copy): they add nothing to the moments and, having no
    # width on the cumulative area, are never sampled
    n = double_area.shape[0]
    area = double_area / 2.0
    total = float(area.sum(dtype=np.float64))
    if not (total > 0.0 and math.isfinite(total)):
        return empty_descriptor(source=source, reason="degenerate", mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
    s = a + b + c
    centroid = np.array([float(np.dot(s[i], area)) for i in range(3)]) / (3.0 * total)
    # ∫ x xᵀ dA over a triangle = A/12 (a aᵀ + b bᵀ + c cᵀ + s sᵀ)
    second = _weighted_outer(area / 12.0, a, b, c, s) / total
    cov = second - np.outer(centroid, centroid)
    # orientation tensor of unit normals: Σ A n nᵀ / ΣA = Σ cross crossᵀ / (2 |cross|) / ΣA
    inverse = np.divide(0.5, double_area, out=np.zeros_like(double_area), where=double_area > 0.0)
    orientation = _weighted_outer(inverse, cross) / total
    closure = cross.sum(axis=1, dtype=np.float64)
    closed = float(np.linalg.norm(closure)) / (2.0 * total) <= CLOSURE_TOLERANCE
    log_compactness = 0.0
    if closed:
        volume = abs(sum(float(np.dot(a[i] - a.dtype.type(centroid[i]), cross[i])) for i in range(3))) / 6.0
        if volume > 0.0 and math.isfinite(volume):
            log_compactness = math.log(max(1.0, total**1.5 / volume / SPHERE_COMPACTNESS))
        else:
            closed = False
    _jitter, _u1, _r2, *pairs = _seeded_draws(3)
    cumulative = np.cumsum(area, dtype=np.float64)
    positions = _sample_offsets() * (cumulative[-1] / SAMPLES)
    index = np.minimum(np.searchsorted(cumulative, positions, side="right"), n - 1)
    weight_a, weight_b, weight_c = _barycentric_weights()
    # the sampled triangles' corners: `take` along the rows gathers what `v[:, index]` does, in a quarter of the time
    a_, b_, c_ = (np.take(v, index, axis=1).astype(np.float64, copy=False) for v in (a, b, c))
    points = weight_a * a_ + weight_b * b_ + weight_c * c_

    def third_moments(axes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        # ∫ f^3 dA over a triangle = A/10 h3(f_a, f_b, f_c) for f linear; the three axes at once, (3, n) rows
        turn = np.ascontiguousarray(axes.T, dtype=a.dtype)
        shift = offsets.astype(a.dtype)[:, None]
        fa, fb, fc = (turn @ v for v in (a, b, c))
        for f in (fa, fb, fc):
            f -= shift
        # summed in the input's precision, as the second moments are (_weighted_outer)
        return np.dot(_h3_consuming(fa, fb, fc), area).astype(np.float64) / (10.0 * total)

    return _finish(kind=KIND_SURFACE, source=source, elements=n, cov=cov, centroid=centroid,
                   points=points, orientation=orientation, closed=closed, log_compactness=log_compactness,
                   mm_per_unit=mm_per_unit, units=units, units_assumed=units_assumed, pairs=tuple(pairs),
                   third_moments=third_moments)


def describe_segments(
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    source: str,
    mm_per_unit: float = 1.0,
    units: str | None = None,
    units_assumed: bool = False,
) -> dict[str, Any]:
    """Descriptor of a set of curves given as straight segments (`starts[i]` to `ends[i]`, (m, 3) arrays)."""
    if len(starts) == 0:
        return empty_descriptor(source=source, reason="no_curves", mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
    both = _centred(np.stack([np.asarray(starts), np.asarray(ends)], axis=1))
    a, b = both[:, 0], both[:, 1]
    direction = b - a
    length = np.sqrt((direction * direction).sum(axis=1))
    keep = length > 0.0
    if not keep.all():
        a, b, direction, length = a[keep], b[keep], direction[keep], length[keep]
    if a.shape[0] == 0:
        return empty_descriptor(source=source, reason="zero_length", mm_per_unit=mm_per_unit, units=units,
                                units_assumed=units_assumed)
    total = float(length.sum())
    centroid = (length[:, None] * (a + b)).sum(axis=0) / (2.0 * total)
    # ∫ x xᵀ ds over a segment = L/3 (a aᵀ + b bᵀ) + L/6 (a bᵀ + b aᵀ)
    ab = np.einsum("n,ni,nj->ij", length / 6.0, a, b)
    second = (np.einsum("n,ni,nj->ij", length / 3.0, a, a) + np.einsum("n,ni,nj->ij", length / 3.0, b, b)
              + ab + ab.T) / total
    cov = second - np.outer(centroid, centroid)
    orientation = np.einsum("n,ni,nj->ij", 1.0 / length, direction, direction) / total
    _jitter, *pairs = _seeded_draws(1)
    cumulative = np.cumsum(length)
    positions = _sample_offsets() * (cumulative[-1] / SAMPLES)
    index = np.minimum(np.searchsorted(cumulative, positions, side="right"), a.shape[0] - 1)
    start_of = cumulative[index] - length[index]
    t = np.clip((positions - start_of) / length[index], 0.0, 1.0)[:, None]
    # `take` gathers the sampled segments' rows as `a[index]` does, in a third of the time
    points = (np.take(a, index, axis=0) + t * np.take(direction, index, axis=0)).T

    def third_moments(axes: np.ndarray, offsets: np.ndarray) -> list[float]:
        # ∫ f^3 ds over a segment = L/4 h3(f_a, f_b) for f linear
        fa, fb = a @ axes - offsets, b @ axes - offsets
        h3 = fa * fa * fa + fb * (fa * fa + fb * (fa + fb))
        return length @ h3 / (4.0 * total)

    return _finish(kind=KIND_CURVES, source=source, elements=int(a.shape[0]), cov=cov, centroid=centroid,
                   points=points, orientation=orientation, closed=False, log_compactness=0.0,
                   mm_per_unit=mm_per_unit, units=units, units_assumed=units_assumed, pairs=tuple(pairs),
                   third_moments=third_moments)


def polylines_to_segments(polylines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the consecutive vertex pairs of each (k, 3) polyline."""
    starts = [p[:-1] for p in polylines if len(p) >= 2]
    ends = [p[1:] for p in polylines if len(p) >= 2]
    if not starts:
        empty = np.zeros((0, 3), dtype=np.float64)
        return empty, empty
    return np.concatenate(starts).astype(np.float64), np.concatenate(ends).astype(np.float64)
