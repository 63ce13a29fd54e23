"""Every supported estimator type, at every protocol, as pickle and plain/compressed joblib, loads."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from modelops.security.pipeline import check_model_bytes
from modelops.security.reference_models import CONTAINERS, ESTIMATOR_TYPES, PROTOCOLS, make_dataset, serialise


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("kind", ESTIMATOR_TYPES)
def test_reference_model_loads_in_blacklist_and_whitelist(kind, protocol, container, fitted_models, allowlist,
                                                          intake_limits):
    original = fitted_models[kind]
    raw = serialise(original, container=container, protocol=protocol)
    X, _ = make_dataset(seed=7)
    for mode in ("blacklist", "whitelist"):
        checked = check_model_bytes(raw, mode=mode, allowlist=allowlist, intake_limits=intake_limits)
        assert checked.report.clean, checked.report.findings
        assert checked.report.protocol == protocol
        assert checked.blob.sha256 == hashlib.sha256(raw).hexdigest()
        assert checked.container == ("pickle" if container == "pickle" else "joblib")
        assert checked.blob.compression == (container.split("-")[1] if "-" in container else None)
        assert type(checked.model) is type(original)
        np.testing.assert_array_equal(checked.model.predict(X), original.predict(X))


def test_gradient_boosting_joblib_object_array_is_scanned_as_nested_stream(fitted_models, allowlist,
                                                                           intake_limits):
    raw = serialise(fitted_models["gradient_boosting"], container="joblib", protocol=4)
    checked = check_model_bytes(raw, mode="whitelist", allowlist=allowlist, intake_limits=intake_limits)
    assert checked.report.nested_streams == 1  # estimators_ is an object array of trees
    assert checked.report.arrays > 1
