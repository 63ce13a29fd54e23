"""Single-pass static scanner for pickle and joblib streams (Django-free).

One pass over every opcode with our own opcode table, an exact symbolic stack and memo, and typed rules:

* every length field is checked against the bytes left *in the current frame*; frames are validated
  strictly (a frame must be complete, no opcode may straddle its end, no FRAME inside an unfinished one);
* PROTO first and once (2-5), exactly one STOP at the end of the data, nothing after it;
* GLOBAL names and STACK_GLOBAL operands (literal strings only, from the stream or the exact memo) are
  canonicalised with the protocol-2 compatibility mapping, then decided by exact name;
* REDUCE/NEWOBJ only on allowed callables/classes, globals as arguments only where learnt, BUILD only on
  an instance created in this stream (once), SETITEM(S)/APPEND(S)/ADDITEMS only on the matching container;
* joblib: a ``NumpyArrayWrapper`` is validated, the raw array bytes that follow it are skipped exactly
  (object arrays: the nested pickle stream is scanned with the same rules) and scanning resumes after;
* limits (opcodes, stack, marks, memo, line length, time) fail closed.

Modes share the parser: ``blacklist`` and ``whitelist`` stop at the first violation (whitelist also
refuses opcodes outside the learnt set), ``audit`` records every violation and keeps going. A stream that
cannot be parsed exactly raises ``OpcodeScanError`` in every mode.
"""

from __future__ import annotations

import codecs
import gc
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import arrays
from .allowlist import AllowList
from .errors import OpcodeBlocked, OpcodeScanError
from .names import canonical_name, has_dunder, is_denied, is_dotted, is_valid_name
from .opcodes import NAMES, OPCODES, PROTO_OF, STRUCTURALLY_BLOCKED, opcode_mask

MODES = ("blacklist", "audit", "whitelist")
WRAPPER_KEY = "joblib.numpy_pickle:NumpyArrayWrapper"
NDARRAY_KEY = "numpy:ndarray"
DTYPE_KEY = "numpy:dtype"
RECONSTRUCT_KEY = "numpy._core.multiarray:_reconstruct"
FROMBUFFER_KEY = "numpy._core.numeric:_frombuffer"
SCALAR_KEY = "numpy._core.multiarray:scalar"
CODECS_ENCODE_KEY = "_codecs:encode"
BYTES_KEY = "builtins:bytes"
_SMALL = 4096  # literals up to this size are materialised; larger ones become a Blob (type + size)
_TICK_BYTES = 1 << 16  # limits (opcodes, time, stack) are checked every 64 KiB of stream (<= 65536 opcodes)

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_u64 = struct.Struct("<Q").unpack_from
_f64 = struct.Struct(">d").unpack_from


@dataclass(frozen=True)
class ScanLimits:
    max_opcodes: int = 20_000_000
    max_stack: int = 1_000_000
    max_marks: int = 10_000
    max_memo: int = 4_000_000
    max_line: int = 4096
    max_seconds: float = 30.0
    max_nested_streams: int = 100_000
    max_findings: int = 200


# ----- symbolic values -------------------------------------------------------------------------------
# Literals (str, bytes, bytearray, int, float, bool, None) and tuples are plain Python values; the classes
# below stand for everything else.

class G:
    """A reference to a global (class or function), by canonical ``module:name``, with its allowed uses."""

    __slots__ = ("key", "ok", "seen")

    def __init__(self, key, ok=frozenset()):
        self.key = key
        self.ok = ok          # uses the allow-list grants
        self.seen = set()     # uses already recorded in the report


class Inst:
    """An object the stream creates (REDUCE/NEWOBJ/INST/OBJ); ``kind`` tags the ones rules look into."""

    __slots__ = ("cls", "kind", "built", "args", "state", "value")

    def __init__(self, cls, kind=None, built=False, args=None):
        self.cls = cls
        self.kind = kind
        self.built = built
        self.args = args
        self.state = None
        self.value = None


class Blob:
    """A large str/bytes/bytearray literal: only its type and size matter to the rules."""

    __slots__ = ("kind", "size")

    def __init__(self, kind, size):
        self.kind = kind
        self.size = size


class _Items:
    """A list or set the stream builds: its items in order (the rules tell the kinds apart by exact type)."""

    __slots__ = ("items",)

    def __init__(self, items=None):
        self.items = items if items is not None else []


class SList(_Items):
    __slots__ = ()


class SDict:
    __slots__ = ("pairs",)

    def __init__(self, pairs=None):
        self.pairs = pairs if pairs is not None else []


class SSet(_Items):
    __slots__ = ()


class SFrozen:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class Opaque:
    """Audit mode only: the result of an operation the blocking modes would have refused."""

    __slots__ = ()


OPAQUE = Opaque()
_BYTES_LIKE = (bytes, bytearray)


@dataclass
class Finding:
    rule: str
    offset: int
    opcode: str | None
    global_name: str | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return {"rule": self.rule, "offset": self.offset, "opcode": self.opcode, "global": self.global_name,
                "detail": self.detail}


@dataclass
class ScanReport:
    mode: str
    container: str = "pickle"             # "joblib" when array wrappers were found
    protocol: int | None = None
    opcodes: dict[str, int] = field(default_factory=dict)
    globals: dict[str, int] = field(default_factory=dict)
    global_uses: dict[str, set] = field(default_factory=dict)
    arg_globals: dict[str, dict[int, set]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    n_opcodes: int = 0
    arrays: int = 0
    array_bytes: int = 0
    nested_streams: int = 0
    duration_s: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self, *, max_findings: int = 50) -> dict:
        return {
            "mode": self.mode, "container": self.container, "protocol": self.protocol,
            "clean": self.clean, "n_opcodes": self.n_opcodes, "arrays": self.arrays,
            "array_bytes": self.array_bytes, "nested_streams": self.nested_streams,
            "duration_ms": round(self.duration_s * 1000, 3),
            "opcodes": dict(sorted(self.opcodes.items())), "globals": dict(sorted(self.globals.items())),
            "findings": [f.as_dict() for f in self.findings[:max_findings]],
            "findings_total": len(self.findings),
        }


# ----- typed argument rules for the callables where arguments matter ---------------------------------

def _is_dtype(x) -> bool:
    return type(x) is Inst and x.kind == "dtype"


def _is_bytes(x) -> bool:
    return type(x) in _BYTES_LIKE or (type(x) is Blob and x.kind != "str") or (type(x) is Inst and x.kind == "bytes")


def _int_tuple(x) -> bool:
    if type(x) is not tuple:
        return False
    for d in x:
        if type(d) is not int:
            return False
    return True


def _rule_codecs_encode(args):
    if len(args) == 2 and (type(args[0]) is str or (type(args[0]) is Blob and args[0].kind == "str")) \
            and args[1] == "latin1":
        return None
    return "_codecs.encode only as (str, 'latin1')"


def _rule_reconstruct(args):
    if len(args) == 3 and type(args[0]) is G and args[0].key == NDARRAY_KEY and _int_tuple(args[1]) \
            and _is_bytes(args[2]):
        return None
    return "_reconstruct only as (numpy.ndarray, shape, bytes)"


def _rule_frombuffer(args):
    if len(args) == 4 and _is_bytes(args[0]) and _is_dtype(args[1]) and _int_tuple(args[2]) \
            and args[3] in ("C", "F"):
        return None
    return "_frombuffer only as (bytes, dtype, shape, order)"


def _rule_scalar(args):
    if len(args) in (1, 2) and _is_dtype(args[0]) and (len(args) == 1 or _is_bytes(args[1])):
        return None
    return "scalar only as (dtype, bytes)"


def _rule_dtype(args):
    if len(args) == 3 and type(args[0]) is str and type(args[1]) is bool and type(args[2]) is bool:
        return None
    return "dtype only as (str, bool, bool)"


def _rule_no_args(args):
    return None if args == () else "no arguments allowed"


TYPED_RULES = {
    CODECS_ENCODE_KEY: _rule_codecs_encode,
    RECONSTRUCT_KEY: _rule_reconstruct,
    FROMBUFFER_KEY: _rule_frombuffer,
    SCALAR_KEY: _rule_scalar,
    DTYPE_KEY: _rule_dtype,
    BYTES_KEY: _rule_no_args,
    WRAPPER_KEY: _rule_no_args,
}
# Result kind and whether the result is already complete (a later BUILD on it is refused).
RESULT_KIND = {
    CODECS_ENCODE_KEY: ("bytes", True),
    BYTES_KEY: ("bytes", True),
    RECONSTRUCT_KEY: ("ndarray", False),
    FROMBUFFER_KEY: ("ndarray", True),
    SCALAR_KEY: ("scalar", True),
    DTYPE_KEY: ("dtype", False),
    WRAPPER_KEY: ("wrapper", False),
}


_NO_KIND = (None, False)


class Scanner:
    """Scan one payload. Use :func:`scan` rather than this class directly."""

    def __init__(self, data: bytes, *, mode: str, allowlist: AllowList, limits: ScanLimits,
                 yield_point: Callable[[], float] | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.data = data
        self.mode = mode
        self.audit = mode == "audit"
        self.allow = allowlist
        self.limits = limits
        forbidden = opcode_mask(STRUCTURALLY_BLOCKED)
        if mode == "whitelist":
            allowed = opcode_mask(allowlist.opcodes)
            for code in OPCODES:
                if not allowed[code]:
                    forbidden[code] = 1
        self.forbidden = forbidden
        self.report = ScanReport(mode=mode)
        self.counts = [0] * 256
        self.globals: dict[str, int] = {}
        self._g_cache: dict[str, G] = {}
        self.n_ops = 0
        self.deadline = 0.0
        self.yield_point = yield_point
        self._masks: dict[int, bytearray] = {}
        self._arg_checked: set = set()
        self._fast_reconstruct = None

    # ----- reporting ---------------------------------------------------------------------------------
    def _violation(self, rule, offset, opcode=None, global_name=None, detail=""):
        report = self.report
        if len(report.findings) < self.limits.max_findings:
            report.findings.append(Finding(rule, offset, NAMES[opcode] if opcode is not None else None,
                                           global_name, detail))
        if not self.audit:
            raise OpcodeBlocked(f"model refused by the {self.mode} scan: {rule}"
                                + (f" ({global_name})" if global_name else "") + (f": {detail}" if detail else ""),
                                context={"rule": rule, "offset": offset,
                                         "opcode": NAMES[opcode] if opcode is not None else None,
                                         "global": global_name, "mode": self.mode, "detail": detail},
                                report=report)

    def _error(self, rule, offset, opcode=None, detail=""):
        raise OpcodeScanError(f"model stream cannot be parsed exactly: {rule}" + (f": {detail}" if detail else ""),
                              context={"rule": rule, "offset": offset,
                                       "opcode": NAMES[opcode] if opcode is not None else None,
                                       "mode": self.mode, "detail": detail},
                              report=self.report)

    # ----- globals and their uses --------------------------------------------------------------------
    def _global(self, proto, module, name, off, op, nested):
        module, name = canonical_name(proto, module, name)
        key = f"{module}:{name}"
        self.globals[key] = self.globals.get(key, 0) + 1
        if key not in self.allow.globals:
            if not is_valid_name(module, name):
                rule = "global_name_invalid"
            elif is_denied(module, name):
                rule = "global_denied"
            elif is_dotted(name):
                rule = "global_dotted"
            elif has_dunder(module, name):
                rule = "global_dunder"
            else:
                rule = "global_not_allowed"
            self._violation(rule, off, op, key[:300])
        if nested and key == WRAPPER_KEY:
            self._violation("wrapper_in_nested_stream", off, op, key)
        g = self._g_cache.get(key)
        if g is None:
            g = self._g_cache[key] = G(key, self.allow.globals.get(key, frozenset()))
        return g

    def _use(self, g, use, off, op):
        if use not in g.seen:
            g.seen.add(use)
            self.report.global_uses.setdefault(g.key, set()).add(use)
        if use not in g.ok:
            self._violation("global_use", off, op, g.key, f"{g.key} may not be used as {use}")

    def _values(self, items, off, op):
        """Check values stored in containers or object state: globals need the ``value`` use.

        Nested tuples are walked once each (by identity): a stream can share one tuple many times (DUP, memo), and
        a walk without the ``walked`` set would take 2**depth steps for a few hundred bytes of input.
        """
        todo = None
        walked = None
        for x in items:
            t = type(x)
            if t is G:
                self._use(x, "value", off, op)
            elif t is tuple:
                if todo is None:
                    todo, walked = [], set()
                if id(x) not in walked:
                    walked.add(id(x))
                    todo.append(x)
            elif t is Inst and x.kind == "spent":
                self._violation("wrapper_reused", off, op)
        while todo:
            for x in todo.pop():
                t = type(x)
                if t is G:
                    self._use(x, "value", off, op)
                elif t is tuple:
                    if id(x) not in walked:
                        walked.add(id(x))
                        todo.append(x)
                elif t is Inst and x.kind == "spent":
                    self._violation("wrapper_reused", off, op)

    def _args(self, key, args, off, op):
        for arg in args:
            t = type(arg)
            if t is G or t is tuple or (t is Inst and arg.kind == "spent"):
                break
        else:
            return  # fast path: only literals, containers and in-stream objects
        allowed_by_pos = self.allow.arg_globals.get(key, {})
        seen = self.report.arg_globals
        checked = self._arg_checked
        for position, arg in enumerate(args):
            if type(arg) is G and (key, position, arg.key) in checked:
                continue  # this exact (callable, position, global) was recorded and allowed already
            todo = [arg]
            walked: set[int] = set()  # shared tuples once each, as in _values
            while todo:
                x = todo.pop()
                t = type(x)
                if t is G:
                    seen.setdefault(key, {}).setdefault(position, set()).add(x.key)
                    if x.key in allowed_by_pos.get(position, ()):
                        checked.add((key, position, x.key))
                    else:
                        self._violation("global_argument", off, op, x.key,
                                        f"{x.key} may not be argument {position} of {key}")
                elif t is tuple:
                    if id(x) not in walked:
                        walked.add(id(x))
                        todo.extend(x)
                elif t is Inst and x.kind == "spent":
                    self._violation("wrapper_reused", off, op)

    def _call(self, func, args, off, op, use):
        """REDUCE / NEWOBJ: the callable must be an allowed global, the arguments a checked tuple."""
        if type(func) is not G:
            self._violation("call_target", off, op, None, f"{use} on a {type(func).__name__}, not a global")
            return OPAQUE
        if use not in func.ok or use not in func.seen:
            self._use(func, use, off, op)
        if type(args) is not tuple:
            self._violation("call_arguments", off, op, func.key, "arguments must be a tuple")
            return OPAQUE
        key = func.key
        rule = TYPED_RULES.get(key)
        if rule is not None:
            problem = rule(args)
            if problem:
                self._args(key, args, off, op)  # record (and, in audit mode, report) what was passed
                self._violation("typed_rule", off, op, key, problem)
                return OPAQUE
            # The typed rule fixed every argument's type: only top-level globals remain to be checked.
            checked = self._arg_checked
            for position, arg in enumerate(args):
                if type(arg) is G and (key, position, arg.key) not in checked:
                    self._args(key, (arg,) if position == 0 else (None,) * position + (arg,), off, op)
        elif args:
            self._args(key, args, off, op)
        kind, built = RESULT_KIND.get(key, _NO_KIND)
        if kind is None:
            return Inst(key)
        if key == RECONSTRUCT_KEY and self._fast_reconstruct is None and not self.report.findings:
            self._fast_reconstruct = (func, args[0])
        if kind == "scalar" or key == FROMBUFFER_KEY:
            dt = self._dtype_or_violation(args[0] if kind == "scalar" else args[1], off, op)
            if dt is not None and dt.hasobject:
                self._violation("object_dtype", off, op, func.key, "object dtype refused here")
        return Inst(func.key, kind, built, args if kind == "dtype" else None)

    # ----- numpy dtypes and arrays -------------------------------------------------------------------
    def _concrete(self, x, depth):
        if depth > 16:
            raise arrays.ArrayLayoutError("dtype nesting too deep")
        t = type(x)
        if t in (str, int, bool, float) or x is None:
            return x
        if t is tuple:
            return tuple(self._concrete(v, depth + 1) for v in x)
        if t is SDict:
            out = {}
            for k, v in x.pairs:
                if type(k) is not str:
                    raise arrays.ArrayLayoutError("dtype field names must be str")
                out[k] = self._concrete(v, depth + 1)
            return out
        if t is Inst and x.kind == "dtype":
            return self._dtype(x, depth + 1)
        raise arrays.ArrayLayoutError(f"unexpected {t.__name__} in a dtype description")

    def _dtype(self, inst, depth=0):
        if type(inst) is not Inst or inst.kind != "dtype":
            raise arrays.ArrayLayoutError("expected a numpy dtype created in the stream")
        if inst.value is None:
            state = self._concrete(inst.state, depth) if inst.state is not None else None
            inst.value = arrays.dtype_from_reduce(inst.args, state)
        return inst.value

    def _dtype_or_violation(self, sym, off, op):
        try:
            return self._dtype(sym)
        except arrays.ArrayLayoutError as exc:
            self._violation("dtype_invalid", off, op, None, str(exc))
            return None

    def _build(self, inst, state, off, op, pos, frame_end):
        """BUILD: returns (new position, new stack top) — joblib arrays consume bytes after the opcode."""
        if type(inst) is not Inst:
            what = "a global" if type(inst) is G else type(inst).__name__
            self._violation("build_target", off, op, inst.key if type(inst) is G else None,
                            f"BUILD on {what}, not on an instance created in this stream")
            return pos, OPAQUE
        if inst.built:
            self._violation("build_repeated", off, op, inst.cls, "object already built or complete")
            return pos, inst
        inst.built = True
        kind = inst.kind
        for part in (state if type(state) is tuple and len(state) == 2 else (state,)):
            if type(part) is SDict:
                for k, _v in part.pairs:
                    if type(k) is str and k.startswith("__"):
                        self._violation("build_dunder_attribute", off, op, inst.cls,
                                        f"BUILD would set {k[:60]!r} (e.g. __class__ or __dict__)")
        # Values inside an SDict were checked when they were inserted; a valid ndarray state holds no global.
        if type(state) is not SDict and not (kind == "ndarray" and self._check_ndarray_state(state, off, op)):
            self._values((state,), off, op)
        if kind == "dtype":
            inst.state = state
        elif kind == "wrapper":
            if frame_end >= 0 and pos != frame_end:
                self._error("wrapper_inside_frame", off, op, "array data must start after the end of a frame")
            inst.kind = "spent"
            return self._joblib_array(state, off, op, pos), Inst(NDARRAY_KEY, "ndarray", True)
        return pos, inst

    def _check_ndarray_state(self, state, off, op) -> bool:
        """(version, shape, dtype, fortran, data) with the data type matching the dtype; True when valid."""
        if type(state) is not tuple or len(state) != 5 or type(state[0]) is not int or not _int_tuple(state[1]) \
                or type(state[3]) is not bool:
            self._violation("ndarray_state", off, op, None, "ndarray state must be (int, shape, dtype, bool, data)")
            return False
        sym = state[2]
        dt = sym.value if type(sym) is Inst and sym.value is not None else self._dtype_or_violation(sym, off, op)
        if dt is None:
            return False
        data = state[4]
        if dt.hasobject:
            if type(data) is not SList:
                self._violation("ndarray_state", off, op, None, "object array data must be a list")
                return False
        elif not (_is_bytes(data) or type(data) is str or (type(data) is Blob and data.kind == "str")):
            self._violation("ndarray_state", off, op, None, "array data must be bytes")
            return False
        return True

    def _joblib_array(self, state, off, op, pos):
        data, n = self.data, len(self.data)
        try:
            if type(state) is not SDict:
                raise arrays.ArrayLayoutError("NumpyArrayWrapper state must be a dict")
            fields = {}
            for k, v in state.pairs:
                if type(k) is not str:
                    raise arrays.ArrayLayoutError("NumpyArrayWrapper state keys must be str")
                fields[k] = v
            arrays.wrapper_fields(fields)
            subclass = fields["subclass"]
            layout = arrays.array_layout(
                subclass_ok=type(subclass) is G and subclass.key == NDARRAY_KEY,
                shape=fields["shape"], order=fields["order"], dtype=self._dtype(fields["dtype"]),
                allow_mmap=fields.get("allow_mmap", False),
                alignment=fields.get("numpy_array_alignment_bytes"))
        except arrays.ArrayLayoutError as exc:
            self._violation("wrapper_invalid", off, op, WRAPPER_KEY, str(exc))
            self._error("wrapper_unparseable", off, op, "array layout unknown; cannot resume scanning")
        self.report.container = "joblib"
        self.report.arrays += 1
        if layout.nested_pickle:
            self.report.nested_streams += 1
            if self.report.nested_streams > self.limits.max_nested_streams:
                self._error("limit_nested_streams", off, op)
            end, result = self._run_stream(pos, nested=True)
            if not (type(result) is Inst and result.kind == "ndarray"):
                self._violation("object_array_payload", pos, None, None, "nested stream must yield an ndarray")
            return end
        if layout.alignment is not None:
            if pos >= n:
                self._error("truncated", pos, None, "missing array padding byte")
            padding = data[pos]
            if padding > layout.alignment:
                self._error("array_padding", pos, None, f"padding {padding} > {layout.alignment}")
            pos += 1 + padding
        end = pos + layout.nbytes
        if end > n:
            self._error("truncated", pos, None, f"array declares {layout.nbytes} bytes, {max(n - pos, 0)} left")
        self.report.array_bytes += layout.nbytes
        return end

    # ----- limits ------------------------------------------------------------------------------------
    def _bad_mask(self, proto):
        """Opcodes that need the slow pre-flight: unknown, refused in this mode, or above the protocol."""
        mask = self._masks.get(proto)
        if mask is None:
            mask = bytearray(self.forbidden)
            for code in range(256):
                if code not in OPCODES or (PROTO_OF[code] > proto and code != 0x80):
                    mask[code] = 1
            self._masks[proto] = mask
        return mask

    def _preflight(self, op, off, proto):
        if op not in OPCODES:
            self._error("unknown_opcode", off, None, f"byte 0x{op:02x}")
        if self.forbidden[op]:
            self._violation("opcode_not_allowed", off, op, None, f"{NAMES[op]} is not allowed in {self.mode} mode")
        if PROTO_OF[op] > proto and op != 0x80:
            self._violation("opcode_protocol", off, op, None, f"{NAMES[op]} needs protocol {PROTO_OF[op]}")

    def _tick(self, off, stack, metastack):
        if self.yield_point is not None:
            self.deadline += self.yield_point()  # time spent waiting for inference is not scan time
        self.n_ops = sum(self.counts)
        if self.n_ops > self.limits.max_opcodes:
            self._error("limit_opcodes", off, None, f"more than {self.limits.max_opcodes} opcodes")
        if time.monotonic() > self.deadline:
            self._error("limit_time", off, None, f"scan exceeded {self.limits.max_seconds}s")
        if len(stack) + sum(len(s) for s in metastack) > self.limits.max_stack:
            self._error("limit_stack", off, None, f"stack deeper than {self.limits.max_stack}")

    # ----- the pass ----------------------------------------------------------------------------------
    def run(self) -> ScanReport:
        started = time.monotonic()
        self.deadline = started + self.limits.max_seconds
        # The symbolic objects are acyclic in practice and all die with the scan: pausing the cyclic GC
        # keeps a scan from paying for full-heap collections in a process that already holds big models.
        paused_gc = gc.isenabled()
        if paused_gc:
            gc.disable()
        try:
            self._run_stream(0, nested=False)
        finally:
            if paused_gc:
                gc.enable()
            report = self.report
            report.n_opcodes = sum(self.counts)  # exact even when the pass stopped early
            report.opcodes = {NAMES[c]: k for c, k in enumerate(self.counts) if k}
            report.globals = dict(self.globals)
            report.duration_s = time.monotonic() - started
        return report

    def _run_stream(self, pos, *, nested):  # noqa: C901 - one dispatch loop is the point
        data = self.data
        n = len(data)
        counts = self.counts
        limits = self.limits
        max_line, max_memo, max_marks = limits.max_line, limits.max_memo, limits.max_marks
        violation = self._violation
        error = self._error
        stack: list = []
        push = stack.append
        fast_reconstruct = fast_ndarray = None  # set once _reconstruct(numpy.ndarray, ...) passed in full
        metastack: list = []
        memo: dict = {}
        start = pos
        proto = 5          # until PROTO is seen (a missing PROTO is itself a violation)
        seen_proto = False
        limit = n          # end of the current frame, or n outside frames
        framed = False     # inside a frame (a frame may end exactly at n, so limit alone cannot tell)
        next_tick = pos + _TICK_BYTES
        check_at = min(limit, next_tick)  # the one comparison per opcode: frame end, data end or limit check

        def bounds(off, op, need):
            if framed:
                error("frame_overrun", off, op, f"{need} bytes needed past the end of the frame")
            error("truncated", off, op, f"{need} bytes needed, {n - (off + 1)} left")

        def read_line(p, off, op):
            end = data.find(b"\n", p, min(limit, p + max_line + 1))
            if end < 0:
                if limit - p > max_line:
                    error("limit_line", off, op, f"line longer than {max_line}")
                bounds(off, op, limit - p + 1)
            return data[p:end], end + 1

        def memo_index(p, off, op, name):
            """The memo index after a GET/PUT opcode: one byte (BIN*), four (LONG_BIN*) or a text line."""
            if op == 0x68 or op == 0x71:
                if p >= limit:
                    bounds(off, op, 1)
                return data[p], p + 1
            if op == 0x6A or op == 0x72:
                if p + 4 > limit:
                    bounds(off, op, 4)
                return _u32(data, p)[0], p + 4
            line, p = read_line(p, off, op)
            try:
                return int(line), p
            except ValueError:
                error("bad_int", off, op, f"{name} index")

        def pop_mark(off, op):
            nonlocal stack, push
            if not metastack:
                error("mark_missing", off, op, "no MARK on the stack")
            items = stack
            stack = metastack.pop()
            push = stack.append
            return items

        def need(k, off, op):
            if len(stack) < k:
                error("stack_underflow", off, op, f"{k} item(s) needed")

        if pos >= n or data[pos] != 0x80:
            violation("proto_missing", pos, data[pos] if pos < n else None, None, "stream must start with PROTO")
        bad = self._bad_mask(proto)
        while True:
            if pos >= check_at:
                if framed and pos >= limit:
                    framed = False  # the frame was consumed exactly
                    limit = n
                if pos >= n:
                    error("truncated", pos, None, "stream ended without STOP")
                if pos >= next_tick:
                    self._tick(pos, stack, metastack)
                    next_tick = pos + _TICK_BYTES
                check_at = min(limit, next_tick)
            op = data[pos]
            off = pos
            pos += 1
            counts[op] += 1
            if bad[op]:
                self._preflight(op, off, proto)

            if op == 0x94:                                 # MEMOIZE
                if not stack:
                    error("stack_underflow", off, op, "MEMOIZE on an empty stack")
                size = len(memo)
                if size >= max_memo:
                    error("limit_memo", off, op, f"more than {max_memo} memo entries")
                memo[size] = stack[-1]
            elif op in (0x68, 0x6A, 0x67):  # BINGET, LONG_BINGET, GET
                idx, pos = memo_index(pos, off, op, "GET")
                try:
                    value = memo[idx]
                except KeyError:
                    error("memo_missing", off, op, f"memo index {idx} was never written")
                if type(value) is Inst and value.kind == "spent":
                    violation("wrapper_reused", off, op, WRAPPER_KEY, "array wrapper fetched from the memo")
                push(value)
            elif op in (0x71, 0x72, 0x70):  # BINPUT, LONG_BINPUT, PUT
                idx, pos = memo_index(pos, off, op, "PUT")
                if idx < 0:  # only the text form can be negative
                    error("bad_int", off, op, "negative PUT index")
                if not stack:
                    error("stack_underflow", off, op, "PUT on an empty stack")
                if idx >= max_memo:
                    error("limit_memo", off, op, f"memo index {idx} >= {max_memo}")
                if idx in memo:
                    violation("memo_overwrite", off, op, None, f"memo index {idx} written twice")
                elif len(memo) >= max_memo:
                    error("limit_memo", off, op, f"more than {max_memo} memo entries")
                memo[idx] = stack[-1]
            elif op == 0x4B:                                 # BININT1
                if pos >= limit:
                    bounds(off, op, 1)
                push(data[pos])
                pos += 1
            elif op in (0x8C, 0x55, 0x43):  # SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
                if pos >= limit:
                    bounds(off, op, 1)
                end = pos + 1 + data[pos]
                if end > limit:
                    bounds(off, op, end - pos)
                raw = data[pos + 1:end]
                pos = end
                try:
                    if op == 0x8C:
                        push(str(raw, "utf-8", "surrogatepass"))
                    elif op == 0x55:
                        push(raw.decode("ascii"))
                    else:
                        push(raw)
                except UnicodeDecodeError as exc:
                    error("string_decode", off, op, str(exc)[:200])
            elif op == 0x28:                                 # MARK
                if len(metastack) >= max_marks:
                    error("limit_marks", off, op, f"more than {max_marks} nested MARKs")
                metastack.append(stack)
                stack = []
                push = stack.append
            elif op == 0x85:                                 # TUPLE1
                if not stack:
                    need(1, off, op)
                stack[-1] = (stack[-1],)
            elif op == 0x62:                                 # BUILD
                if len(stack) < 2:
                    need(2, off, op)
                state = stack.pop()
                pos, stack[-1] = self._build(stack[-1], state, off, op, pos, limit if framed else -1)
                if framed and pos > limit:
                    framed = False  # raw array bytes follow outside any frame
                    limit = n
            elif op == 0x89:                                 # NEWFALSE
                push(False)
            elif op == 0x88:                                 # NEWTRUE
                push(True)
            elif op == 0x4E:                                 # NONE
                push(None)
            elif op == 0x52:                                 # REDUCE
                if len(stack) < 2:
                    need(2, off, op)
                args = stack.pop()
                func = stack[-1]
                if func is fast_reconstruct and type(args) is tuple and len(args) == 3 \
                        and args[0] is fast_ndarray and args[1] == (0,) and type(args[1][0]) is int \
                        and type(args[2]) is bytes:
                    # numpy's own array prologue, already checked in full once in this scan
                    stack[-1] = Inst(RECONSTRUCT_KEY, "ndarray")
                else:
                    stack[-1] = self._call(func, args, off, op, "reduce")
                    if fast_reconstruct is None and self._fast_reconstruct is not None:
                        fast_reconstruct, fast_ndarray = self._fast_reconstruct
            elif op == 0x74:                                 # TUPLE
                if not metastack:
                    pop_mark(off, op)
                items = stack
                stack = metastack.pop()
                push = stack.append
                push(tuple(items))
            elif op == 0x87:                                 # TUPLE3
                if len(stack) < 3:
                    need(3, off, op)
                stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
            elif op == 0x86:                                 # TUPLE2
                if len(stack) < 2:
                    need(2, off, op)
                stack[-2:] = [(stack[-2], stack[-1])]
            elif op in (0x58, 0x42, 0x8D, 0x8E, 0x96, 0x54):  # BINUNICODE, BINBYTES (u4) / BINUNICODE8, BINBYTES8, BYTEARRAY8 (u8) / BINSTRING (i4)
                if op == 0x58 or op == 0x42 or op == 0x54:
                    if pos + 4 > limit:
                        bounds(off, op, 4)
                    size = (_i32 if op == 0x54 else _u32)(data, pos)[0]
                    pos += 4
                    if size < 0:
                        error("bad_length", off, op, "negative length")
                else:
                    if pos + 8 > limit:
                        bounds(off, op, 8)
                    size = _u64(data, pos)[0]
                    pos += 8
                end = pos + size
                if end > limit:
                    bounds(off, op, size)
                kind = "bytes" if op in (0x42, 0x8E) else "bytearray" if op == 0x96 else "str"
                if size > _SMALL and op != 0x54:
                    if kind == "str":
                        try:  # validate the encoding in bounded chunks without keeping the text
                            dec = codecs.getincrementaldecoder("utf-8")("surrogatepass")
                            for chunk_start in range(pos, end, 1 << 20):
                                dec.decode(data[chunk_start:min(end, chunk_start + (1 << 20))])
                            dec.decode(b"", final=True)
                        except UnicodeDecodeError as exc:
                            error("string_decode", off, op, str(exc)[:200])
                    push(Blob(kind, size))
                else:
                    raw = data[pos:end]
                    try:
                        if op == 0x54:
                            push(raw.decode("ascii"))
                        elif kind == "str":
                            push(str(raw, "utf-8", "surrogatepass"))
                        elif kind == "bytearray":
                            push(bytearray(raw))
                        else:
                            push(raw)
                    except UnicodeDecodeError as exc:
                        error("string_decode", off, op, str(exc)[:200])
                pos = end
            elif op == 0x29:                                 # EMPTY_TUPLE
                push(())
            elif op == 0x7D:                                 # EMPTY_DICT
                push(SDict())
            elif op in (0x75, 0x73):  # SETITEMS, SETITEM
                if op == 0x75:
                    items = pop_mark(off, op)
                    if len(items) % 2:
                        error("odd_setitems", off, op, "SETITEMS needs key/value pairs")
                else:
                    need(3, off, op)
                    items = stack[-2:]
                    del stack[-2:]
                need(1, off, op)
                target = stack[-1]
                if type(target) is not SDict:
                    violation("setitem_target", off, op, None, f"SETITEM(S) on a {type(target).__name__}")
                else:
                    self._values(items, off, op)
                    pairs = target.pairs
                    for i in range(0, len(items), 2):
                        pairs.append((items[i], items[i + 1]))
            elif op == 0x81:                                 # NEWOBJ
                need(2, off, op)
                args = stack.pop()
                cls = stack.pop()
                push(self._call(cls, args, off, op, "newobj"))
            elif op == 0x5D:                                 # EMPTY_LIST
                push(SList())
            elif op in (0x65, 0x61):  # APPENDS, APPEND
                if op == 0x65:
                    items = pop_mark(off, op)
                else:
                    need(2, off, op)
                    items = [stack.pop()]
                need(1, off, op)
                target = stack[-1]
                if type(target) is not SList:
                    violation("append_target", off, op, None, f"APPEND(S) on a {type(target).__name__}")
                else:
                    self._values(items, off, op)
                    target.items.extend(items)
            elif op == 0x47:                                 # BINFLOAT
                if pos + 8 > limit:
                    bounds(off, op, 8)
                push(_f64(data, pos)[0])
                pos += 8
            elif op == 0x4A:                                 # BININT
                if pos + 4 > limit:
                    bounds(off, op, 4)
                push(_i32(data, pos)[0])
                pos += 4
            elif op == 0x4D:                                 # BININT2
                if pos + 2 > limit:
                    bounds(off, op, 2)
                push(_u16(data, pos)[0])
                pos += 2
            elif op in (0x93, 0x63):  # STACK_GLOBAL, GLOBAL
                if op == 0x93:
                    need(2, off, op)
                    name = stack.pop()
                    module = stack.pop()
                    if type(module) is not str or type(name) is not str:
                        violation("stack_global_operand", off, op, None,
                                  "STACK_GLOBAL operands must be literal strings")
                        push(OPAQUE)
                        continue
                else:
                    line, pos = read_line(pos, off, op)
                    line2, pos = read_line(pos, off, op)
                    try:
                        module, name = line.decode("utf-8"), line2.decode("utf-8")
                    except UnicodeDecodeError:
                        error("string_decode", off, op, "GLOBAL name is not UTF-8")
                push(self._global(proto, module, name, off, op, nested))
            elif op == 0x95:                                 # FRAME
                if pos + 8 > limit:
                    bounds(off, op, 8)
                if framed:
                    error("frame_nested", off, op, "FRAME before the end of the current frame")
                size = _u64(data, pos)[0]
                pos += 8
                if pos + size > n:
                    error("frame_length", off, op, f"frame declares {size} bytes, {n - pos} left")
                limit = pos + size
                framed = True
                check_at = min(limit, next_tick)
            elif op in (0x8A, 0x8B):  # LONG1, LONG4
                if op == 0x8A:
                    if pos >= limit:
                        bounds(off, op, 1)
                    size = data[pos]
                    pos += 1
                else:
                    if pos + 4 > limit:
                        bounds(off, op, 4)
                    size = _i32(data, pos)[0]
                    pos += 4
                    if size < 0:
                        error("bad_length", off, op, "negative LONG4 length")
                end = pos + size
                if end > limit:
                    bounds(off, op, size)
                push(int.from_bytes(data[pos:end], "little", signed=True))
                pos = end
            elif op == 0x2E:                                 # STOP
                need(1, off, op)
                result = stack.pop()
                if stack or metastack:
                    violation("stop_residue", off, op, None, "items left on the stack at STOP")
                self._values((result,), off, op)
                if framed and pos != limit:
                    if nested:
                        error("frame_residue", off, op, "nested stream stops inside a frame")
                    violation("trailing_data", pos, None, None, "data after STOP inside the frame")
                elif not nested and pos != n:
                    violation("trailing_data", pos, None, None, f"{n - pos} bytes after STOP")
                return pos, result
            elif op == 0x8F:                                 # EMPTY_SET
                push(SSet())
            elif op == 0x90:                                 # ADDITEMS
                items = pop_mark(off, op)
                need(1, off, op)
                target = stack[-1]
                if type(target) is not SSet:
                    violation("additems_target", off, op, None, f"ADDITEMS on a {type(target).__name__}")
                else:
                    self._values(items, off, op)
                    target.items.extend(items)
            elif op == 0x91:                                 # FROZENSET
                items = pop_mark(off, op)
                self._values(items, off, op)
                push(SFrozen(items))
            elif op in (0x6C, 0x64):  # LIST, DICT
                items = pop_mark(off, op)
                self._values(items, off, op)
                if op == 0x6C:
                    push(SList(items))
                else:
                    if len(items) % 2:
                        error("odd_dict", off, op, "DICT needs key/value pairs")
                    push(SDict([(items[i], items[i + 1]) for i in range(0, len(items), 2)]))
            elif op == 0x92:                                 # NEWOBJ_EX
                need(3, off, op)
                kwargs = stack.pop()
                args = stack.pop()
                cls = stack.pop()
                if type(kwargs) is not SDict:
                    violation("call_arguments", off, op, None, "NEWOBJ_EX keyword arguments must be a dict")
                else:
                    self._values([v for pair in kwargs.pairs for v in pair], off, op)
                push(self._call(cls, args, off, op, "newobj"))
            elif op == 0x80:                                 # PROTO
                if pos >= limit:
                    bounds(off, op, 1)
                version = data[pos]
                pos += 1
                if seen_proto or off != start:
                    violation("proto_repeated", off, op, None, "PROTO must appear once, first")
                if not 2 <= version <= 5:
                    violation("proto_version", off, op, None, f"protocol {version} (need 2-5)")
                seen_proto = True
                proto = version
                bad = self._bad_mask(proto)
                if start == 0:
                    self.report.protocol = version
            elif op == 0x30:                                 # POP
                if stack:
                    stack.pop()
                else:
                    pop_mark(off, op)
            elif op == 0x31:                                 # POP_MARK
                pop_mark(off, op)
            elif op == 0x32:                                 # DUP
                need(1, off, op)
                push(stack[-1])
            elif op in (0x49, 0x4C, 0x46):  # INT, LONG, FLOAT (text)
                line, pos = read_line(pos, off, op)
                try:
                    if op == 0x49:
                        value = False if line == b"00" else True if line == b"01" else int(line + b"\n", 0)
                    elif op == 0x4C:
                        value = int(line[:-1] if line.endswith(b"L") else line, 0)
                    else:
                        value = float(line)
                except ValueError:
                    error("bad_number", off, op, "malformed text number")
                push(value)
            elif op in (0x53, 0x56):  # STRING, UNICODE (text)
                line, pos = read_line(pos, off, op)
                try:
                    if op == 0x53:
                        if len(line) < 2 or line[0] != line[-1] or line[0] not in b"\"'":
                            error("bad_string", off, op, "STRING must be quoted")
                        push(codecs.escape_decode(line[1:-1])[0].decode("ascii"))
                    else:
                        push(str(line, "raw-unicode-escape"))
                except (ValueError, UnicodeDecodeError):
                    error("string_decode", off, op, "malformed text string")
            elif op in (0x69, 0x6F):  # INST, OBJ (structurally blocked)
                if op == 0x69:
                    line, pos = read_line(pos, off, op)
                    line2, pos = read_line(pos, off, op)
                    try:
                        g = self._global(proto, line.decode("utf-8"), line2.decode("utf-8"), off, op, nested)
                    except UnicodeDecodeError:
                        error("string_decode", off, op, "INST name is not UTF-8")
                    self._use(g, "newobj", off, op)
                    pop_mark(off, op)
                else:
                    items = pop_mark(off, op)
                    if not items:
                        error("stack_underflow", off, op, "OBJ needs a class")
                    if type(items[0]) is G:
                        self._use(items[0], "newobj", off, op)
                push(Inst("?", None))
            elif op == 0x50:                                 # PERSID (structurally blocked)
                _line, pos = read_line(pos, off, op)
                push(OPAQUE)
            elif op == 0x51:                                 # BINPERSID (structurally blocked)
                need(1, off, op)
                stack[-1] = OPAQUE
            elif op in (0x82, 0x83, 0x84):  # EXT1, EXT2, EXT4 (structurally blocked)
                width = 1 if op == 0x82 else 2 if op == 0x83 else 4
                if pos + width > limit:
                    bounds(off, op, width)
                pos += width
                push(OPAQUE)
            elif op == 0x97:                                 # NEXT_BUFFER (structurally blocked)
                push(OPAQUE)
            elif op == 0x98:                                 # READONLY_BUFFER (structurally blocked)
                need(1, off, op)
            else:
                error("unknown_opcode", off, None, f"byte 0x{op:02x}")


def scan(payload: bytes, *, mode: str, allowlist: AllowList, limits: ScanLimits | None = None,
         yield_point: Callable[[], float] | None = None) -> ScanReport:
    """Scan ``payload`` (a decompressed pickle/joblib stream). Raises OpcodeBlocked / OpcodeScanError.
    ``yield_point`` is called every 64 KiB of stream and returns the seconds it paused (not counted as scan
    time); see ``modelops.foreground``."""
    return Scanner(payload, mode=mode, allowlist=allowlist, limits=limits or ScanLimits(),
                   yield_point=yield_point).run()
