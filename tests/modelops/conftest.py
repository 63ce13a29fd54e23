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
