"""Hypothesis fuzz: mutated benign pickles never make the scanner raise anything unexpected, and whatever
the scanner allows loads (or is refused by the loader) without tripping the audit hook."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.security.errors import LoadRefused, OpcodeBlocked, OpcodeScanError
from modelops.security.loader import restricted_load
from modelops.security.reference_models import fit_reference, serialise
from modelops.security.scanner import ScanLimits, scan

LIMITS = ScanLimits(max_opcodes=200_000, max_seconds=5)


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    tree = fit_reference("decision_tree", n_classes=2)
    logreg = fit_reference("scaler_logistic_regression", n_classes=2)
    items = [
        serialise(tree, container="pickle", protocol=2),
        serialise(tree, container="pickle", protocol=5),
        serialise(tree, container="joblib", protocol=4),
        serialise(logreg, container="joblib", protocol=3),
        pickle.dumps({"a": [1, 2.5, "x", b"y", (None, True)], "b": {1, 2}}, protocol=4),
    ]
    return items


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in ops:
        if not buf:
            break
        pos = where % len(buf)
        if kind == "flip":
            buf[pos] = arg
        elif kind == "insert":
            buf[pos:pos] = arg
        elif kind == "delete":
            del buf[pos:pos + arg]
        else:
            del buf[pos:]
    return bytes(buf)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 4), ops=st.lists(mutation, min_size=1, max_size=4),
       mode=st.sampled_from(["blacklist", "whitelist", "audit"]))
def test_scanner_on_mutated_benign_pickles(corpus, allowlist, index, ops, mode):
    data = mutate(corpus[index % len(corpus)], ops)
    try:
        report = scan(data, mode=mode, allowlist=allowlist, limits=LIMITS)
    except (OpcodeBlocked, OpcodeScanError) as exc:
        assert exc.context["rule"]
        return
    if mode == "audit" and report.findings:
        return
    try:
        restricted_load(data, allowlist=allowlist)
    except LoadRefused as exc:
        assert not exc.context.get("events"), exc.context  # refused for a reason, never by the tripwire
