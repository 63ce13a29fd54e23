"""Vector validation, normalisation and resizing shared by every search path."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vectors.index.errors import InvalidVectorError


def as_matrix(values: Sequence[Sequence[float]] | np.ndarray, dimension: int) -> np.ndarray:
    """Returns ``values`` as a C-contiguous float32 (n, dimension) matrix; rejects a wrong shape and NaN/inf."""
    try:
        with np.errstate(over="ignore"):  # out-of-range values become inf and are refused below
            matrix = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorError(f"vector values must be numbers: {exc}") from exc
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise InvalidVectorError("vectors must be a list of numbers or a list of such lists")
    if matrix.shape[1] != dimension:
        raise InvalidVectorError(
            f"expected {dimension} values, found {matrix.shape[1]}", expected=dimension, found=int(matrix.shape[1])
        )
    if not np.isfinite(matrix).all():
        raise InvalidVectorError("vector values must be finite (no NaN or inf)")
    return np.ascontiguousarray(matrix)


def normalized(matrix: np.ndarray) -> np.ndarray:
    """Returns an L2-normalised float32 copy of ``matrix``; all-zero rows stay zero (cosine 0 with everything)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def resized(vector: np.ndarray, dimension: int) -> np.ndarray:
    """Zero-pads or truncates a 1-D vector to ``dimension`` slots."""
    out = np.zeros(dimension, dtype=np.float32)
    n = min(dimension, vector.shape[0])
    out[:n] = vector[:n]
    return out
