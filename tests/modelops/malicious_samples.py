"""Hostile model files, one or more per threat class of docs/model-security.md (tests only).

Every payload, if it ever ran, would create ``marker`` (a path in the test's tmp_path) — through a shell,
exec, open(..., "w"), a nested deserializer or a subprocess. Building a sample never runs it: samples are
assembled as bytes, or pickled from objects whose ``__reduce__`` only *names* the sink.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import zlib

import joblib
import numpy as np

from modelops.security.reference_models import fit_reference, serialise

from . import pickle_asm as A


class _Reduce:
    """Pickles as ``func(*args)`` without ever calling func."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _shell(marker) -> str:
    return f"touch {marker}"


def _exec_src(marker) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _sys_call(marker, *, how: str = "global") -> bytes:
    """A protocol-4 body that calls posix.system('touch marker') (no PROTO/STOP)."""
    if how == "global":
        return A.global_("posix", "system") + A.u(_shell(marker)) + A.TUPLE1 + A.REDUCE
    return A.stack_global("posix", "system") + A.u(_shell(marker)) + A.TUPLE1 + A.REDUCE


def samples(marker) -> dict[str, bytes]:
    m = str(marker)
    out: dict[str, bytes] = {}

    # -- global-name tricks --------------------------------------------------------------------------
    for p in (2, 3, 4, 5):
        out[f"reduce_os_system_p{p}"] = pickle.dumps(_Reduce(os.system, (_shell(m),)), protocol=p)
        out[f"reduce_exec_p{p}"] = pickle.dumps(_Reduce(exec, (_exec_src(m),)), protocol=p)
    out["reduce_open_write"] = pickle.dumps(_Reduce(open, (m, "w")), protocol=4)
    out["reduce_subprocess_popen"] = pickle.dumps(_Reduce(subprocess.Popen, (["touch", m],)), protocol=4)
    out["reduce_subprocess_check_call"] = pickle.dumps(_Reduce(subprocess.check_call, (["touch", m],)), protocol=3)
    out["private_alias_posixsubprocess"] = A.proto(4) + A.stack_global("_posixsubprocess", "fork_exec") \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["private_alias_io_open"] = A.proto(4) + A.stack_global("_io", "open") + A.u(m) + A.u("w") \
        + A.TUPLE2 + A.REDUCE + A.STOP
    out["compat_name_builtin_eval_p2"] = A.proto(2) + A.global_("__builtin__", "eval") \
        + A.binunicode(f"__import__('os').system({_shell(m)!r})") + A.TUPLE1 + A.REDUCE + A.STOP
    out["compat_name_builtin_open_p2"] = A.proto(2) + A.global_("__builtin__", "open") + A.binunicode(m) \
        + A.binunicode("w") + A.TUPLE2 + A.REDUCE + A.STOP
    out["compat_module_copy_reg_p2"] = A.proto(2) + A.global_("copy_reg", "_reconstructor") \
        + A.global_("posix", "system") + A.NONE + A.binunicode(_shell(m)) + b"\x87" + A.REDUCE + A.STOP
    out["dotted_name_via_attribute"] = A.proto(4) + A.stack_global("joblib.numpy_pickle", "os.system") \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["dotted_name_from_allowed_module"] = A.proto(4) + A.stack_global("numpy", "ctypeslib.os.system") \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["dunder_traversal_builtins"] = A.proto(4) + A.stack_global("sklearn.base", "__builtins__.exec") \
        + A.u(_exec_src(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["dunder_traversal_globals"] = A.proto(4) \
        + A.stack_global("numpy._core.multiarray", "_reconstruct.__globals__.__builtins__.exec") \
        + A.u(_exec_src(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["universal_resolver_getattr"] = A.proto(4) + A.stack_global("builtins", "getattr") \
        + A.stack_global("importlib", "import_module") + A.u("os") + A.TUPLE1 + A.REDUCE \
        + A.u("system") + A.TUPLE2 + A.REDUCE + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["universal_loader_import"] = A.proto(4) + A.stack_global("builtins", "__import__") + A.u("os") \
        + A.TUPLE1 + A.REDUCE + A.STOP
    inner = pickle.dumps(_Reduce(os.system, (_shell(m),)), protocol=4)
    out["nested_pickle_loads"] = pickle.dumps(_Reduce(pickle.loads, (inner,)), protocol=4)
    out["nested_numpy_load"] = A.proto(4) + A.stack_global("numpy", "load") + A.u(m) + A.TUPLE1 + A.REDUCE \
        + A.STOP
    out["nested_joblib_load"] = A.proto(4) + A.stack_global("joblib", "load") + A.u(m) + A.TUPLE1 \
        + A.REDUCE + A.STOP
    out["nested_marshal_loads"] = A.proto(4) + A.stack_global("marshal", "loads") \
        + b"C\x04" + b"\x00" * 4 + A.TUPLE1 + A.REDUCE + A.STOP

    # -- stack and memo tricks -----------------------------------------------------------------------
    # STACK_GLOBAL operand computed at run time (bytes from _codecs.encode, an allowed callable).
    out["operand_built_at_runtime"] = A.proto(4) + A.stack_global("_codecs", "encode") + A.u("posix") \
        + A.u("latin1") + A.TUPLE2 + A.REDUCE + A.u("system") + b"\x93" + A.u(_shell(m)) + A.TUPLE1 \
        + A.REDUCE + A.STOP
    # operands fetched from the memo resolve exactly: still posix.system
    out["operand_from_memo"] = A.proto(4) + A.u("posix") + A.MEMOIZE + A.POP + A.u("system") + A.MEMOIZE \
        + A.POP + A.binget(0) + A.binget(1) + b"\x93" + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    # memo overwrite: index 0 first holds an allowed module name, then the hostile one
    out["memo_overwrite"] = A.proto(4) + A.u("numpy") + A.binput(0) + A.POP + A.u("posix") + A.binput(0) \
        + A.POP + A.binget(0) + A.u("system") + b"\x93" + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    # stack shuffling: an allowed callable is pushed, then dropped with POP_MARK so REDUCE hits another one
    out["stack_shuffle_pop_mark"] = A.proto(4) + A.stack_global("posix", "system") + A.MARK \
        + A.stack_global("numpy", "dtype") + A.POP_MARK + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    # BUILD on a global: patch an allowed class so a later call runs the sink
    out["build_on_global"] = A.proto(4) + A.stack_global("sklearn.pipeline", "Pipeline") + A.NONE \
        + A.EMPTY_DICT + A.u("__call__") + A.stack_global("posix", "system") + b"s" + A.TUPLE2 + A.BUILD \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    # mutation of a non-container: APPENDS on a dtype calls its .extend/.append attribute
    out["appends_on_instance"] = A.proto(4) + A.stack_global("numpy", "dtype") + A.u("f8") \
        + b"\x89\x88" + b"\x87" + A.REDUCE + A.MARK + A.u(_shell(m)) + A.APPENDS + A.STOP
    out["setitems_on_instance"] = A.proto(4) + A.stack_global("numpy", "dtype") + A.u("f8") \
        + b"\x89\x88" + b"\x87" + A.REDUCE + A.MARK + A.u("k") + A.u(_shell(m)) + A.SETITEMS + A.STOP
    out["ext_opcode"] = A.proto(4) + b"\x82\x01" + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["persid_opcode"] = A.proto(2) + b"P" + _shell(m).encode() + b"\n" + A.STOP
    out["binpersid_opcode"] = A.proto(4) + A.u(_shell(m)) + b"Q" + A.STOP
    out["out_of_band_buffer"] = A.proto(5) + b"\x97" + b"\x98" + A.STOP
    out["proto_games_repeated"] = A.proto(4) + A.proto(2) + A.global_("__builtin__", "exec") \
        + A.binunicode(_exec_src(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["proto_games_opcode_above_proto"] = A.proto(2) + A.stack_global("posix", "system") \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP
    out["payload_then_corruption"] = A.proto(4) + _sys_call(m, how="stack") + b"\xff\xfe garbage"
    out["payload_then_second_pickle"] = pickle.dumps(1, protocol=4) + pickle.dumps(_Reduce(os.system, (_shell(m),)),
                                                                                   protocol=4)
    out["inst_opcode"] = A.proto(2) + A.MARK + A.u(_shell(m)) + b"iposix\nsystem\n" + A.STOP
    out["obj_opcode"] = A.proto(2) + A.MARK + A.global_("posix", "system") + A.u(_shell(m)) + b"o" + A.STOP

    # -- parser differentials ------------------------------------------------------------------------
    hostile = _sys_call(m, how="stack") + A.STOP
    out["frame_longer_than_data"] = A.proto(4) + A.frame(hostile, declared=len(hostile) + 4096)
    out["frame_shorter_than_opcode"] = A.proto(4) + A.frame(hostile[:5], declared=3) + hostile[5:]
    out["frame_inside_frame"] = A.proto(4) + A.frame(A.frame(hostile))
    out["control_chars_in_name"] = A.proto(4) + A.stack_global("posix", "system\x00") + A.u(_shell(m)) \
        + A.TUPLE1 + A.REDUCE + A.STOP
    out["newline_in_stack_global_name"] = A.proto(4) + A.stack_global("numpy\nposix", "system") \
        + A.u(_shell(m)) + A.TUPLE1 + A.REDUCE + A.STOP

    # -- gadgets that survive a naive allow-list -----------------------------------------------------
    out["allowed_helper_with_callable_arg"] = A.proto(4) + A.stack_global("sklearn.neighbors._kd_tree", "newObj") \
        + A.stack_global("posix", "system") + A.TUPLE1 + A.REDUCE + A.STOP
    out["allowed_helper_with_wrong_class"] = A.proto(4) \
        + A.stack_global("numpy.random._pickle", "__bit_generator_ctor") \
        + A.stack_global("subprocess", "Popen") + A.TUPLE1 + A.REDUCE + A.STOP
    out["reconstruct_with_other_class"] = A.proto(4) + A.stack_global("numpy._core.multiarray", "_reconstruct") \
        + A.stack_global("subprocess", "Popen") + A.u(_shell(m)) + A.TUPLE1 + b"C\x01b" + b"\x87" + A.REDUCE + A.STOP
    out["codecs_encode_other_codec"] = A.proto(4) + A.stack_global("_codecs", "encode") + A.u(_shell(m)) \
        + A.u("uu_codec") + A.TUPLE2 + A.REDUCE + A.STOP
    out["allowed_class_as_reduce_callable"] = A.proto(4) + A.stack_global("sklearn.pipeline", "Pipeline") \
        + A.EMPTY_LIST + A.TUPLE1 + A.REDUCE + A.STOP
    knn = fit_reference("k_neighbors")
    knn.metric = os.system  # an allowed estimator carrying a callable
    out["estimator_with_callable_param"] = pickle.dumps(knn, protocol=4)
    knn2 = fit_reference("k_neighbors")
    knn2.metric = np.ndarray  # an allowed estimator carrying an allowed class as a callable
    out["estimator_with_allowed_class_param"] = pickle.dumps(knn2, protocol=4)
    rf = fit_reference("random_forest")
    rf.n_jobs = 10**6  # absurd parameter: predict would try to start a million workers
    out["estimator_with_absurd_param"] = pickle.dumps(rf, protocol=4)
    out["tree_child_out_of_range"] = _tampered_tree(lambda nodes: nodes["left_child"].__setitem__(0, 10**6))
    out["tree_cycle"] = _tampered_tree(lambda nodes: nodes["left_child"].__setitem__(1, 0)
                                       if nodes["left_child"][1] != -1 else nodes["right_child"].__setitem__(2, 0))
    out["tree_feature_out_of_range"] = _tampered_tree(lambda nodes: nodes["feature"].__setitem__(0, 999))
    out["wrapper_lying_shape"] = _joblib_wrapper_lying_shape()
    out["scalar_object_dtype"] = A.proto(4) + A.stack_global("numpy._core.multiarray", "scalar") \
        + A.stack_global("numpy", "dtype") + A.u("O8") + b"\x89\x88\x87" + A.REDUCE \
        + A.stack_global("posix", "system") + A.TUPLE2 + A.REDUCE + A.STOP

    # -- joblib and containers -----------------------------------------------------------------------
    evil = _Reduce(os.system, (_shell(m),))
    for comp in (None, "zlib", "gzip", "bz2", "xz"):
        buf = io.BytesIO()
        joblib.dump({"coef": np.arange(64, dtype=np.float64), "after": evil}, buf,
                    compress=(comp, 3) if comp else 0)
        out[f"joblib_payload_after_array_{comp or 'plain'}"] = buf.getvalue()
    buf = io.BytesIO()
    joblib.dump(np.array([evil, 1], dtype=object), buf)
    out["joblib_object_array"] = buf.getvalue()
    out["joblib_array_hiding_opcodes"] = _joblib_array_hiding_opcodes(m)
    out["build_sets_dunder_class"] = class_swap_sample(m)
    out["build_sets_dunder_class_to_allowed"] = (
        A.proto(4) + A.stack_global("sklearn.pipeline", "Pipeline") + A.EMPTY_TUPLE + A.NEWOBJ + A.NONE
        + A.EMPTY_DICT + A.u("__class__") + A.stack_global("numpy", "ndarray")
        + b"s" + A.TUPLE2 + A.BUILD + A.STOP)
    return out


def _tampered_tree(mutate) -> bytes:
    """A fitted decision tree whose node array was edited before pickling."""
    from sklearn.tree._tree import Tree

    model = fit_reference("decision_tree")
    tree = model.tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    mutate(nodes)
    state["nodes"] = nodes
    clone = Tree(tree.n_features, np.asarray(tree.n_classes), tree.n_outputs)
    clone.__setstate__(state)
    model.tree_ = clone
    return pickle.dumps(model, protocol=4)


def _joblib_wrapper_lying_shape() -> bytes:
    """A joblib wrapper declaring a 10**9-element array with 64 bytes behind it."""
    buf = io.BytesIO()
    joblib.dump(np.arange(8, dtype=np.float64), buf, protocol=3)
    raw = buf.getvalue()
    small = pickle.dumps((8,), protocol=4)[2:-1]  # the shape tuple's opcodes: K\x08\x85 (+ MEMOIZE)
    assert raw.count(b"K\x08\x85") == 1, small
    return raw.replace(b"K\x08\x85", b"J" + struct.pack("<i", 10**9) + b"\x85")


def _joblib_array_hiding_opcodes(marker: str) -> bytes:
    """Hostile opcodes placed where a scanner that does not understand joblib would skip them as data."""
    buf = io.BytesIO()
    joblib.dump(np.zeros(4, dtype=np.uint8), buf, protocol=4)
    raw = buf.getvalue()
    # Declare 0 elements while keeping the original 4 data bytes + append a payload after the array.
    raw = raw.replace(b"K\x04\x85", b"K\x00\x85")
    return raw[:-1] + b"0" + _sys_call(marker, how="stack") + A.STOP


def compress_bomb(size: int) -> bytes:
    return zlib.compress(b"\x80\x04" + b"N" * size + b".", 9)


def class_swap_sample(marker) -> bytes:
    """BUILD with slot state {'__class__': ...}: setattr would turn an allowed object into another class."""
    return (A.proto(4) + A.stack_global("sklearn.pipeline", "Pipeline") + A.EMPTY_TUPLE + A.NEWOBJ
            + A.NONE + A.EMPTY_DICT + A.u("__class__") + A.stack_global("posix", "system") + b"s" + A.TUPLE2
            + A.BUILD + A.STOP)
