"""Fixtures for the modelops tests: reference models, the shipped allow-list, intake limits."""

from __future__ import annotations

import pytest

from modelops.security.allowlist import default_allowlist
from modelops.security.intake import IntakeLimits
from modelops.security.reference_models import reference_models


@pytest.fixture(scope="session")
def allowlist():
    return default_allowlist()


@pytest.fixture(scope="session")
def fitted_models() -> dict:
    return reference_models()


@pytest.fixture
def intake_limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=32 * 1024 * 1024, max_decompressed_bytes=64 * 1024 * 1024, max_ratio=200)


@pytest.fixture(autouse=True)
def reset_model_holder():
    """The holder is process-global: every test starts and ends with no model installed."""
    from modelops.registry import holder

    holder.reset()
    yield
    holder.reset()


@pytest.fixture
def model_dir(settings, tmp_path):
    path = tmp_path / "models"
    path.mkdir()
    settings.CADML_MODEL_DIR = path
    settings.CADML_MODEL_SYNC_INTERVAL_SECONDS = 3600.0
    return path


def fit_for_version(feature_version: str, *, kind: str = "random_forest", seed: int = 0, n_classes: int = 3):
    """A small classifier for the dimension of ``feature_version`` (distinct bytes per seed)."""
    import warnings

    import numpy as np

    from features.extractors import dimension
    from modelops.security.reference_models import make_estimator

    dim = dimension(feature_version)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, dim))
    y = np.array(["bracket", "flange", "housing", "shaft"][:n_classes])[(np.abs(X[:, 0] * 3).astype(int)) % n_classes]
    model = make_estimator(kind, small=True, random_state=seed) if kind not in ("k_neighbors",
                                                                                   "scaler_logistic_regression") \
        else make_estimator(kind, small=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model


@pytest.fixture
def make_model_bytes():
    from modelops.security.reference_models import serialise

    def make(feature_version: str = "v4", *, kind: str = "random_forest", seed: int = 0, container: str = "joblib",
             protocol: int = 4) -> bytes:
        return serialise(fit_for_version(feature_version, kind=kind, seed=seed), container=container,
                         protocol=protocol)

    return make


@pytest.fixture
def register_model(db, model_dir, make_model_bytes):
    from modelops.services import model_version_upload

    def register(label: str, *, seed: int = 0, feature_version: str = "v4", **kwargs):
        return model_version_upload(data=make_model_bytes(feature_version, seed=seed, **kwargs), label=label,
                                    feature_version=feature_version, actor="ops-alice")

    return register
