"""numpy dtype reconstruction and the joblib array layout, shared by the scanner and the loader.

joblib writes each numpy array as a pickled ``NumpyArrayWrapper`` (subclass, shape, order, dtype,
allow_mmap, numpy_array_alignment_bytes) followed, outside any pickle frame, by one padding-length byte,
that many padding bytes and the raw array bytes. Object arrays are written instead as a nested pickle
stream. ``array_layout`` is the single place that decides how many bytes follow a wrapper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

WRAPPER_KEYS = frozenset({"subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"})
WRAPPER_REQUIRED = frozenset({"subclass", "shape", "order", "dtype"})
JOBLIB_ALIGNMENT = 16
MAX_NDIM = 32
_DTYPE_STR = re.compile(r"[<>=|]?[A-Za-z?][0-9]{0,9}(\[[A-Za-z0-9]{1,6}\])?\Z")


class ArrayLayoutError(ValueError):
    """The wrapper or dtype description is not one we accept."""


def dtype_from_reduce(args, state) -> np.dtype:
    """Rebuild a dtype from the arguments and state its ``__reduce__`` produced, after validating them.

    ``args`` must be ``(str, bool, bool)``; ``state`` the version-3 state tuple with nested dtypes already
    rebuilt. Raises ``ArrayLayoutError`` for anything else.
    """
    if (type(args) is not tuple or len(args) != 3 or type(args[0]) is not str or not _DTYPE_STR.match(args[0])
            or type(args[1]) is not bool or type(args[2]) is not bool):
        raise ArrayLayoutError("dtype arguments must be (type string, bool, bool)")
    try:
        dt = np.dtype(args[0], args[1], args[2])
    except (TypeError, ValueError) as exc:
        raise ArrayLayoutError(f"invalid dtype {args[0]!r}: {exc}") from None
    if state is not None:
        _check_dtype_state(state)
        try:
            dt.__setstate__(state)
        except (TypeError, ValueError) as exc:
            raise ArrayLayoutError(f"invalid dtype state: {exc}") from None
    check_dtype_flags(dt)
    return dt


# Flag bits numpy derives from the element types (object references, pickling as a list, needs init/API...).
# A pickled dtype state can set them to anything: an object dtype without them makes numpy copy raw bytes
# into an array of object pointers. They must equal what numpy computes for the same layout.
_OBJECT_FLAG_BITS = 0x7F


def _canonical_dtype(dt: np.dtype, depth: int = 0) -> np.dtype:
    if depth > 16:
        raise ArrayLayoutError("dtype nesting too deep")
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return np.dtype((_canonical_dtype(base, depth + 1), shape))
    if dt.names is not None:
        fields = dt.fields
        return np.dtype({"names": list(dt.names),
                         "formats": [_canonical_dtype(fields[n][0], depth + 1) for n in dt.names],
                         "offsets": [fields[n][1] for n in dt.names], "itemsize": dt.itemsize})
    return np.dtype(dt.str)


def check_dtype_flags(dt: np.dtype) -> None:
    """Refuse a dtype whose object-related flags differ from the ones numpy computes for its layout."""
    try:
        canonical = _canonical_dtype(dt)
    except (TypeError, ValueError, KeyError) as exc:
        raise ArrayLayoutError(f"dtype cannot be rebuilt: {exc}") from None
    if (dt.flags & _OBJECT_FLAG_BITS) != (canonical.flags & _OBJECT_FLAG_BITS) or dt.itemsize != canonical.itemsize:
        raise ArrayLayoutError("dtype flags do not match its element types")


def _check_dtype_state(state) -> None:
    if type(state) is not tuple or len(state) not in (8, 9) or state[0] != 3:
        raise ArrayLayoutError("dtype state must be a version-3 tuple")
    endian, subdtype, names, fields = state[1], state[2], state[3], state[4]
    if endian not in ("<", ">", "|", "="):
        raise ArrayLayoutError("dtype byte order must be one of < > | =")
    if subdtype is not None:
        if (type(subdtype) is not tuple or len(subdtype) != 2 or not isinstance(subdtype[0], np.dtype)
                or type(subdtype[1]) is not tuple or not all(type(d) is int and d >= 0 for d in subdtype[1])):
            raise ArrayLayoutError("dtype sub-array description is malformed")
    if names is not None:
        if type(names) is not tuple or not all(type(n) is str for n in names) or type(fields) is not dict:
            raise ArrayLayoutError("structured dtype names/fields are malformed")
        if len(set(names)) != len(names) or set(names) != set(fields):
            raise ArrayLayoutError("structured dtype names and fields disagree")
        for key, value in fields.items():
            if (type(key) is not str or type(value) is not tuple or len(value) not in (2, 3)
                    or not isinstance(value[0], np.dtype) or type(value[1]) is not int):
                raise ArrayLayoutError("structured dtype field is malformed")
    elif fields is not None:
        raise ArrayLayoutError("dtype fields without names")
    if not all(type(v) is int for v in state[5:8]):
        raise ArrayLayoutError("dtype sizes must be integers")


@dataclass(frozen=True)
class ArrayLayout:
    shape: tuple[int, ...]
    order: str
    dtype: np.dtype
    count: int
    nbytes: int
    alignment: int | None
    nested_pickle: bool   # object dtype: a nested pickle stream follows instead of raw bytes


def array_layout(*, subclass_ok: bool, shape, order, dtype, allow_mmap=False,
                 alignment=JOBLIB_ALIGNMENT) -> ArrayLayout:
    if not subclass_ok:
        raise ArrayLayoutError("array subclass must be numpy.ndarray")
    if type(shape) is not tuple or len(shape) > MAX_NDIM or not all(type(d) is int and d >= 0 for d in shape):
        raise ArrayLayoutError("array shape must be a tuple of non-negative ints")
    if order not in ("C", "F"):
        raise ArrayLayoutError("array order must be 'C' or 'F'")
    if not isinstance(dtype, np.dtype):
        raise ArrayLayoutError("array dtype must be a numpy dtype")
    check_dtype_flags(dtype)
    if type(allow_mmap) is not bool:
        raise ArrayLayoutError("allow_mmap must be a bool")
    if alignment is not None and alignment != JOBLIB_ALIGNMENT:
        raise ArrayLayoutError("numpy_array_alignment_bytes must be 16 or None")
    count = 1
    for dim in shape:
        count *= dim
    if dtype.hasobject:
        return ArrayLayout(shape, order, dtype, count, 0, alignment, True)
    if dtype.itemsize == 0:
        raise ArrayLayoutError("zero-size dtypes are refused")
    return ArrayLayout(shape, order, dtype, count, count * dtype.itemsize, alignment, False)


def wrapper_fields(pairs: dict) -> dict:
    """Check the wrapper's state keys (a dict of str -> value) and return it."""
    keys = set(pairs)
    if not keys <= WRAPPER_KEYS or not WRAPPER_REQUIRED <= keys:
        raise ArrayLayoutError(f"unexpected NumpyArrayWrapper state keys: {sorted(map(str, keys))}")
    return pairs
