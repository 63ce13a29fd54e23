"""Hostile samples from every threat class are refused without executing anything.

Each payload would create ``marker`` if it ever ran; every test checks that the file never appears.
"""

from __future__ import annotations

import pytest

from modelops.security.errors import ModelSecurityError, OpcodeScanError
from modelops.security.intake import intake_bytes
from modelops.security.pipeline import check_model_bytes
from modelops.security.scanner import scan

from .malicious_samples import samples

# Gadgets built only from allowed globals: the scan passes them by design and validation refuses them.
VALIDATION_GADGETS = {
    "estimator_with_allowed_class_param", "estimator_with_absurd_param", "tree_child_out_of_range",
    "tree_cycle", "tree_feature_out_of_range",
}
SAMPLE_NAMES = sorted(samples("/nonexistent/marker"))


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile") / "pwned"


@pytest.fixture(scope="module")
def hostile(marker):
    return samples(marker)


def test_catalogue_covers_every_threat_class():
    prefixes = {"reduce_", "private_alias_", "compat_", "dotted_", "dunder_", "universal_", "nested_",
                "operand_", "memo_", "stack_shuffle", "build_on_global", "appends_on", "ext_opcode", "persid",
                "out_of_band", "proto_games", "payload_then", "frame_", "control_chars", "allowed_helper",
                "estimator_with", "tree_", "wrapper_lying", "joblib_payload_after_array_xz", "joblib_object_array"}
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in SAMPLE_NAMES), prefix


@pytest.mark.parametrize("mode", ["blacklist", "whitelist"])
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_hostile_sample_is_refused(name, mode, hostile, marker, allowlist, intake_limits):
    with pytest.raises(ModelSecurityError) as excinfo:
        check_model_bytes(hostile[name], mode=mode, allowlist=allowlist, intake_limits=intake_limits)
    assert not marker.exists()
    error = excinfo.value
    if name in VALIDATION_GADGETS:
        assert (error.code, error.stage) == ("model_validation_failed", "validate")
    else:
        # Refused by the static scan, before any byte is unpickled.
        assert error.code in ("opcode_blocked", "opcode_scan_error"), (error.code, error.message)
        assert error.stage == "scan"
        assert error.context["mode"] == mode
        assert error.context["rule"]
        assert error.context["sha256"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_audit_mode_records_and_the_loader_still_refuses(name, hostile, marker, allowlist, intake_limits):
    payload = intake_bytes(hostile[name], limits=intake_limits).payload
    try:
        report = scan(payload, mode="audit", allowlist=allowlist)
    except OpcodeScanError as exc:  # malformed streams cannot be parsed in any mode
        assert exc.report.n_opcodes >= 0
    else:
        assert report.n_opcodes > 0 and sum(report.opcodes.values()) == report.n_opcodes
        if name not in VALIDATION_GADGETS:
            assert report.findings, "audit mode must record what the blocking modes refuse"
    with pytest.raises(ModelSecurityError) as excinfo:
        check_model_bytes(hostile[name], mode="audit", allowlist=allowlist, intake_limits=intake_limits)
    assert excinfo.value.stage in ("scan", "load", "validate")
    assert not marker.exists()


def test_audit_mode_classic_payload_is_stopped_by_the_restricted_loader(hostile, marker, allowlist,
                                                                         intake_limits):
    with pytest.raises(ModelSecurityError) as excinfo:
        check_model_bytes(hostile["reduce_os_system_p4"], mode="audit", allowlist=allowlist,
                          intake_limits=intake_limits)
    assert (excinfo.value.code, excinfo.value.stage) == ("load_refused", "load")
    assert excinfo.value.context["global"] == "posix:system"
    assert not marker.exists()
