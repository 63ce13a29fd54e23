"""Restricted load (second line of defence): the same bytes the scanner passed, no other load path.

``RestrictedUnpickler`` subclasses the pure-Python ``pickle._Unpickler`` (the implementation joblib itself
uses) so that both raw pickles and joblib streams follow one code path whose frame handling matches the
scanner. ``find_class`` returns only pre-imported objects for exact allowed names (after the same
protocol-2 mapping as the scanner), ``persistent_load`` and the extension/out-of-band/INST/OBJ opcodes
refuse, and joblib arrays are read by our own reader that never falls back to ``pickle.load``: the
``NumpyArrayWrapper`` name resolves to a local stand-in whose state is validated by ``arrays.array_layout``.
Any exception means refuse; the whole load runs with the audit-hook tripwire armed.
"""

from __future__ import annotations

import codecs
import importlib
import io
import logging
import pickle
import sys
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from . import arrays, tripwire
from .allowlist import AllowList
from .errors import LoadRefused
from .names import canonical_name, name_key
from .scanner import WRAPPER_KEY

logger = logging.getLogger(__name__)
_NATIVE = "<" if sys.byteorder == "little" else ">"


class ArrayHeader:
    """Stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``: holds the state, reads nothing itself."""

    __slots__ = ("state",)

    def __setstate__(self, state):
        if type(state) is not dict or not all(type(k) is str for k in state):
            raise LoadRefused("NumpyArrayWrapper state must be a dict with str keys")
        self.state = state


_objects_lock = threading.Lock()
_objects_cache: dict[int, dict[str, object]] = {}


def resolve_allowed_objects(allowlist: AllowList) -> dict[str, object]:
    """Import (outside any tripwire) every allowed global once; returns ``{module:name: object}``."""
    cached = _objects_cache.get(id(allowlist))
    if cached is not None and cached.get("__allowlist__") is allowlist:
        return cached
    with _objects_lock:
        # _codecs.encode(str, 'latin1') (protocol-2 bytes) looks its codec up lazily: import it now, so
        # that the tripwire can refuse every import during the load itself.
        codecs.lookup("latin1")
        objects: dict[str, object] = {"__allowlist__": allowlist}
        for key in allowlist.globals:
            module_name, _, qualname = key.partition(":")
            if key == WRAPPER_KEY:
                objects[key] = ArrayHeader
                continue
            try:
                obj = importlib.import_module(module_name)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                logger.warning("allow-listed global %s cannot be resolved: %s", key, exc)
                continue
            objects[key] = obj
        _warm_up_native_libraries()
        _objects_cache[id(allowlist)] = objects
        return objects


def _warm_up_native_libraries() -> None:
    """Let threadpoolctl take its handles on the loaded BLAS/OpenMP libraries now, outside any tripwire."""
    try:
        import threadpoolctl

        threadpoolctl.threadpool_info()
    except Exception:  # noqa: BLE001 - a warm-up must never stop the loader
        logger.warning("threadpoolctl warm-up failed", exc_info=True)


class RestrictedUnpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, objects: dict[str, object], nested: bool = False,
                 yield_point: Callable[[], float] | None = None):
        super().__init__(file, fix_imports=True, encoding="ASCII", errors="strict")
        self._objects = objects
        self._nested = nested
        self._source = file
        self._yield_point = yield_point

    def find_class(self, module, name):
        module, name = canonical_name(self.proto, module, name)
        key = name_key(module, name)
        obj = self._objects.get(key) if key != "__allowlist__" else None
        if obj is None:
            raise LoadRefused("global not on the allow-list", context={"global": key[:300]})
        if obj is ArrayHeader and self._nested:
            raise LoadRefused("array wrapper inside a nested stream", context={"global": key})
        return obj

    def persistent_load(self, pid):
        raise LoadRefused("persistent ids are refused")

    def _refuse_opcode(self):
        raise LoadRefused("opcode refused by the restricted loader")

    for _code in (pickle.INST, pickle.OBJ, pickle.PERSID, pickle.BINPERSID, pickle.EXT1, pickle.EXT2,
                  pickle.EXT4, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_code[0]] = _refuse_opcode
    del _code

    def load_build(self):
        if self._yield_point is not None:
            self._yield_point()  # let inference in this process go first (modelops.foreground)
        state = self.stack[-1] if self.stack else None
        for part in (state if type(state) is tuple and len(state) == 2 else (state,)):
            if type(part) is dict and any(type(k) is str and k.startswith("__") for k in part):
                raise LoadRefused("BUILD may not set dunder attributes")
        pickle._Unpickler.load_build(self)
        top = self.stack[-1]
        if type(top) is ArrayHeader:
            self.stack[-1] = self._read_joblib_array(top)
        elif isinstance(top, np.dtype):
            try:
                arrays.check_dtype_flags(top)
            except arrays.ArrayLayoutError as exc:
                raise LoadRefused(f"invalid dtype: {exc}") from None

    dispatch[pickle.BUILD[0]] = load_build

    def _read_exact(self, n: int) -> bytes:
        data = self._source.read(n)
        if len(data) != n:
            raise LoadRefused("array data truncated")
        return data

    def _read_joblib_array(self, header: ArrayHeader):
        state = getattr(header, "state", None)
        if state is None:
            raise LoadRefused("array wrapper without state")
        frame = self._unframer.current_frame
        if frame is not None and frame.tell() != len(frame.getbuffer()):
            raise LoadRefused("array data must start after the end of a frame")
        try:
            fields = arrays.wrapper_fields(state)
            layout = arrays.array_layout(
                subclass_ok=fields["subclass"] is np.ndarray, shape=fields["shape"], order=fields["order"],
                dtype=fields["dtype"], allow_mmap=fields.get("allow_mmap", False),
                alignment=fields.get("numpy_array_alignment_bytes"))
        except arrays.ArrayLayoutError as exc:
            raise LoadRefused(f"invalid array wrapper: {exc}") from None
        if layout.nested_pickle:
            inner = RestrictedUnpickler(self._source, objects=self._objects, nested=True,
                                        yield_point=self._yield_point)
            array = inner.load()
            if type(array) is not np.ndarray or not array.dtype.hasobject or array.shape != layout.shape:
                raise LoadRefused("nested object-array stream did not yield the declared object array")
            return array
        if layout.alignment is not None:
            padding = self._read_exact(1)[0]
            if padding > layout.alignment:
                raise LoadRefused("array padding larger than the alignment")
            self._read_exact(padding)
        array = np.empty(layout.count, dtype=layout.dtype)
        if layout.nbytes:
            got = self._source.readinto(array.view(np.uint8).reshape(-1))
            if got != layout.nbytes:
                raise LoadRefused("array data truncated")
        if layout.order == "F":
            array = array.reshape(layout.shape[::-1]).transpose()
        else:
            array = array.reshape(layout.shape)
        if array.dtype.byteorder not in ("=", "|", _NATIVE) and array.dtype.names is None:
            array = array.byteswap().view(array.dtype.newbyteorder("="))
        return array


def restricted_load(payload: bytes, *, allowlist: AllowList,
                    yield_point: Callable[[], float] | None = None) -> tuple[object, list[str]]:
    """Load ``payload`` with the restricted unpickler under the tripwire. Returns (object, warnings).
    ``yield_point`` is called at every BUILD (see ``modelops.foreground``)."""
    objects = resolve_allowed_objects(allowlist)
    buf = io.BytesIO(payload)
    unpickler = RestrictedUnpickler(buf, objects=objects, yield_point=yield_point)
    with recorded_warnings() as caught:
        try:
            with tripwire.armed() as events:
                obj = unpickler.load()
        except LoadRefused:
            raise
        except tripwire.TripwireTripped as exc:
            raise LoadRefused(f"tripwire: {exc}", context={"events": list(events)}) from None
        except Exception as exc:  # any failure of the restricted load means refuse
            raise LoadRefused(f"restricted load failed: {type(exc).__name__}: {str(exc)[:300]}",
                              context={"events": list(events)}) from None
    if events:
        raise LoadRefused("tripwire tripped during load", context={"events": list(events)})
    if buf.tell() != len(payload):
        raise LoadRefused("data after the end of the pickle stream")
    return obj, caught


_recording = threading.local()
_showwarning_lock = threading.Lock()


def _recording_showwarning(original):
    def showwarning(message, category, filename, lineno, file=None, line=None):
        messages = getattr(_recording, "messages", None)
        if messages is None:
            return original(message, category, filename, lineno, file, line)
        messages.append(str(message)[:300])  # recorded, never formatted: formatting reads source files

    showwarning.recording_original = original
    return showwarning


@contextmanager
def recorded_warnings():
    """Collect the warnings the calling thread raises, without touching the process-wide filter list.

    ``warnings.catch_warnings`` saves and restores ``warnings.filters`` for the whole process. scikit-learn's
    parallel helper empties that list for an instant around every tree of a prediction; a load saving it at
    that instant (a model converging in the background while a request predicts) would leave the process with
    no filters at all. Instead ``warnings.showwarning`` is wrapped (once, and again if something replaced it)
    by a function that records for a thread inside this block and hands every other thread's warnings to the
    previous function. Recording without formatting matters too: formatting a warning reads the source file,
    which the tripwire refuses.
    """
    with _showwarning_lock:
        if not hasattr(warnings.showwarning, "recording_original"):
            warnings.showwarning = _recording_showwarning(warnings.showwarning)
    messages: list[str] = []
    _recording.messages = messages
    try:
        yield messages
    finally:
        _recording.messages = None
