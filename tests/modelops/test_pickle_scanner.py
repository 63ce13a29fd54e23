"""Scanner rules that are not a threat sample of their own: limits, modes, reporting, joblib layout."""

from __future__ import annotations

import io
import pickle
import struct

import joblib
import numpy as np
import pytest

from modelops.security.allowlist import EMPTY_ALLOWLIST
from modelops.security.errors import OpcodeBlocked, OpcodeScanError
from modelops.security.scanner import ScanLimits, scan

from . import pickle_asm as A


def test_report_counts_opcodes_and_globals(allowlist, fitted_models):
    raw = pickle.dumps(fitted_models["decision_tree"], protocol=4)
    report = scan(raw, mode="whitelist", allowlist=allowlist)
    assert report.clean and report.protocol == 4
    assert sum(report.opcodes.values()) == report.n_opcodes
    assert report.globals["sklearn.tree._classes:DecisionTreeClassifier"] == 1
    assert report.as_dict()["findings_total"] == 0


def test_audit_mode_blocks_nothing_and_records_every_global(fitted_models):
    raw = pickle.dumps(fitted_models["random_forest"], protocol=5)
    report = scan(raw, mode="audit", allowlist=EMPTY_ALLOWLIST)
    assert {f.rule for f in report.findings} >= {"global_not_allowed"}
    assert "sklearn.ensemble._forest:RandomForestClassifier" in report.globals
    assert report.global_uses["sklearn.ensemble._forest:RandomForestClassifier"] == {"newobj"}
    with pytest.raises(OpcodeBlocked):
        scan(raw, mode="blacklist", allowlist=EMPTY_ALLOWLIST)


def test_whitelist_refuses_opcodes_outside_the_learnt_set_that_blacklist_parses(allowlist):
    raw = A.proto(2) + b"I42\n" + A.STOP  # text INT: valid, never produced by our models
    assert scan(raw, mode="blacklist", allowlist=allowlist).clean
    with pytest.raises(OpcodeBlocked) as excinfo:
        scan(raw, mode="whitelist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "opcode_not_allowed" and excinfo.value.context["opcode"] == "INT"


@pytest.mark.parametrize("raw,rule", [
    (A.proto(4) + b"\x8e" + struct.pack("<Q", 2**60) + A.STOP, "truncated"),
    (A.proto(4) + b"X" + struct.pack("<I", 2**31) + A.STOP, "truncated"),
    (A.proto(4) + A.NONE + b"r" + struct.pack("<I", 2**32 - 1) + A.STOP, "limit_memo"),
    (A.proto(4) + b"h\x07" + A.STOP, "memo_missing"),
    (A.proto(4) + A.NONE, "truncated"),
    (A.proto(4) + A.STOP, "stack_underflow"),
    (A.proto(4) + A.TUPLE + A.STOP, "mark_missing"),
    (A.proto(4) + b"\xff" + A.STOP, "unknown_opcode"),
    (A.proto(2) + b"I12x\n" + A.STOP, "bad_number"),
    (A.proto(2) + b"c" + b"a" * 5000 + b"\nb\n" + A.STOP, "limit_line"),
])
def test_malformed_streams_fail_closed(raw, rule, allowlist):
    for mode in ("blacklist", "audit"):
        with pytest.raises(OpcodeScanError) as excinfo:
            scan(raw, mode=mode, allowlist=allowlist)
        assert excinfo.value.context["rule"] == rule
    with pytest.raises((OpcodeScanError, OpcodeBlocked)):  # whitelist may refuse the opcode before parsing it
        scan(raw, mode="whitelist", allowlist=allowlist)


def test_opcode_and_stack_limits(allowlist):
    many = A.proto(4) + (A.NONE + A.POP) * 200_000 + A.NONE + A.STOP
    assert scan(many, mode="blacklist", allowlist=allowlist).n_opcodes == 400_003
    with pytest.raises(OpcodeScanError) as excinfo:
        scan(many, mode="blacklist", allowlist=allowlist, limits=ScanLimits(max_opcodes=100_000))
    assert excinfo.value.context["rule"] == "limit_opcodes"
    deep = A.proto(4) + A.MARK * 20_000 + A.STOP
    with pytest.raises(OpcodeScanError) as excinfo:
        scan(deep, mode="blacklist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "limit_marks"
    wide = A.proto(4) + A.NONE * 300_000 + A.STOP
    with pytest.raises(OpcodeScanError) as excinfo:
        scan(wide, mode="blacklist", allowlist=allowlist, limits=ScanLimits(max_stack=100_000))
    assert excinfo.value.context["rule"] == "limit_stack"


def test_stop_must_end_the_data_and_leave_nothing_behind(allowlist):
    with pytest.raises(OpcodeBlocked) as excinfo:
        scan(A.proto(4) + A.NONE + A.NONE + A.STOP, mode="blacklist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "stop_residue"
    with pytest.raises(OpcodeBlocked) as excinfo:
        scan(A.proto(4) + A.NONE + A.STOP + b"\x00", mode="blacklist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "trailing_data"


def test_joblib_array_bytes_are_skipped_exactly(allowlist):
    buf = io.BytesIO()
    arrays = {"a": np.arange(1000, dtype=np.float64), "b": np.ones((3, 4), dtype=np.int32, order="F")}
    joblib.dump(arrays, buf, protocol=4)
    report = scan(buf.getvalue(), mode="blacklist", allowlist=allowlist)
    assert report.container == "joblib" and report.arrays == 2
    assert report.array_bytes == 8000 + 48


def test_joblib_array_bytes_that_look_like_opcodes_are_not_parsed(allowlist):
    hostile_looking = np.frombuffer(b"cposix\nsystem\n" + b"\x00" * 2, dtype=np.uint8).copy()
    buf = io.BytesIO()
    joblib.dump(hostile_looking, buf, protocol=4)
    assert scan(buf.getvalue(), mode="whitelist", allowlist=allowlist).clean


def test_joblib_object_dtype_declared_as_raw_bytes_is_refused(allowlist):
    buf = io.BytesIO()
    joblib.dump(np.arange(4, dtype=np.int64), buf, protocol=3)
    raw = buf.getvalue().replace(b"\x8c\x02i8", b"\x8c\x02O8").replace(b"X\x02\x00\x00\x00i8", b"X\x02\x00\x00\x00O8")
    assert raw != buf.getvalue()
    with pytest.raises((OpcodeBlocked, OpcodeScanError)):
        scan(raw, mode="blacklist", allowlist=allowlist)


def _object_array_with_stripped_flags() -> bytes:
    """An ndarray whose dtype is 'O' but whose pickled state clears the object flags (raw pointers)."""
    dtype = (A.stack_global("numpy", "dtype") + A.u("O8") + b"\x89\x88\x87" + A.REDUCE
             + A.MARK + b"K\x03" + A.u("|") + A.NONE * 3 + b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00" + A.TUPLE
             + A.BUILD)
    return (A.proto(4) + A.stack_global("numpy._core.multiarray", "_reconstruct") + A.stack_global("numpy", "ndarray")
            + b"K\x00\x85" + b"C\x01b" + b"\x87" + A.REDUCE
            + A.MARK + b"K\x01" + b"K\x01\x85" + dtype + b"\x89" + b"C\x08" + b"\x41" * 8 + A.TUPLE + A.BUILD + A.STOP)


def test_object_dtype_with_stripped_flags_is_refused_by_scanner_and_loader(allowlist):
    from modelops.security.errors import LoadRefused
    from modelops.security.loader import restricted_load

    raw = _object_array_with_stripped_flags()
    with pytest.raises(OpcodeBlocked) as excinfo:
        scan(raw, mode="blacklist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "dtype_invalid"
    assert scan(raw, mode="audit", allowlist=allowlist).findings
    with pytest.raises(LoadRefused):
        restricted_load(raw, allowlist=allowlist)


def test_structured_dtype_whose_names_and_fields_disagree_is_refused():
    from modelops.security.arrays import ArrayLayoutError, dtype_from_reduce

    state = (3, "|", None, ("a", "b"), {"a": (np.dtype("f8"), 0)}, 16, 1, 16)
    with pytest.raises(ArrayLayoutError):
        dtype_from_reduce(("V16", False, True), state)


def test_build_may_not_set_dunder_attributes_in_scanner_or_loader(allowlist):
    from modelops.security.errors import LoadRefused
    from modelops.security.loader import restricted_load

    from .malicious_samples import samples

    raw = samples("/nonexistent")["build_sets_dunder_class_to_allowed"]
    with pytest.raises(OpcodeBlocked) as excinfo:
        scan(raw, mode="blacklist", allowlist=allowlist)
    assert excinfo.value.context["rule"] == "build_dunder_attribute"
    with pytest.raises(LoadRefused):
        restricted_load(raw, allowlist=allowlist)
