"""The whole refusal pipeline on one byte buffer: intake -> hash -> scan -> restricted load -> validate.

Django-free. ``screen_model_bytes`` runs the static half (what registration runs: nothing is unpickled);
``check_model_bytes`` runs it, then the load and validation, and either returns a ``CheckedModel`` ready to
be swapped in, or raises a ``ModelSecurityError`` whose ``stage``/``code``/``context`` say why (with the scan
report attached when the scan ran, so callers can record the opcode audit even for refused models).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .allowlist import AllowList
from .errors import HashMismatch, ModelSecurityError
from .intake import IntakeLimits, ModelBlob, check_size, intake_bytes, sha256_hex
from .loader import restricted_load
from .scanner import ScanLimits, ScanReport, scan
from .validation import ModelInfo, canary_predict, validate_model


@dataclass
class CheckedModel:
    blob: ModelBlob
    report: ScanReport
    model: object
    info: ModelInfo
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def container(self) -> str:
        return "joblib" if self.blob.compression else self.report.container


def check_hash(sha256: str, *, expected_sha256: str | None, hash_allowlist: frozenset[str] | None) -> None:
    if expected_sha256 and expected_sha256.lower() != sha256:
        raise HashMismatch("model sha256 differs from expected_sha256",
                           context={"sha256": sha256, "expected_sha256": expected_sha256.lower()})
    if hash_allowlist and sha256 not in hash_allowlist:
        raise HashMismatch("model sha256 is not on the hash allow-list", context={"sha256": sha256})


def scan_bytes(raw: bytes, *, mode: str, allowlist: AllowList, intake_limits: IntakeLimits,
               scan_limits: ScanLimits | None = None) -> tuple[ModelBlob, ScanReport]:
    """Intake and static scan only (``manage.py model_scan``)."""
    blob = intake_bytes(raw, limits=intake_limits)
    try:
        return blob, scan(blob.payload, mode=mode, allowlist=allowlist, limits=scan_limits)
    except ModelSecurityError as exc:
        exc.context.setdefault("sha256", blob.sha256)
        raise


@dataclass
class ScreenedModel:
    """What passed the static half of the pipeline (nothing was unpickled)."""

    blob: ModelBlob
    report: ScanReport
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def container(self) -> str:
        return "joblib" if self.blob.compression else self.report.container


def screen_model_bytes(raw: bytes, *, mode: str, allowlist: AllowList, intake_limits: IntakeLimits,
                       scan_limits: ScanLimits | None = None, hash_allowlist: frozenset[str] | None = None,
                       expected_sha256: str | None = None, admit: Callable[[str], None] | None = None,
                       yield_point: Callable[[], float] | None = None) -> ScreenedModel:
    """intake -> hash -> scan on one byte buffer: what registration runs, and the first half of every load.

    ``admit(sha256)`` runs once the hash checks passed, before the bytes are decompressed and scanned (the
    registry refuses a file it already holds there). A refusal carries ``sha256`` and ``mode`` in its context and,
    from the scan on, the scan report."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    check_size(raw, limits=intake_limits)
    if yield_point is not None:
        yield_point()  # hashing and decompression run off the GIL but still take a core
    sha256 = sha256_hex(raw)
    try:
        check_hash(sha256, expected_sha256=expected_sha256, hash_allowlist=hash_allowlist)
        if admit is not None:
            admit(sha256)
        if yield_point is not None:
            yield_point()
        blob = intake_bytes(raw, limits=intake_limits, sha256=sha256)
        t1 = time.perf_counter()
        timings["intake"] = (t1 - t0) * 1000
        report = scan(blob.payload, mode=mode, allowlist=allowlist, limits=scan_limits, yield_point=yield_point)
        timings["scan"] = (time.perf_counter() - t1) * 1000
    except ModelSecurityError as exc:
        exc.context.setdefault("sha256", sha256)
        exc.context.setdefault("mode", mode)
        raise
    return ScreenedModel(blob=blob, report=report, timings_ms=timings)


def check_model_bytes(raw: bytes, *, mode: str, allowlist: AllowList, intake_limits: IntakeLimits,
                      scan_limits: ScanLimits | None = None, hash_allowlist: frozenset[str] | None = None,
                      expected_sha256: str | None = None, expected_dimension: int | None = None,
                      canary: bool = True, yield_point: Callable[[], float] | None = None) -> CheckedModel:
    """The whole pipeline: ``screen_model_bytes``, then the restricted load and the validation.
    ``canary=False`` only for processes converging on bytes (same sha256) another process fully checked.
    ``yield_point`` lets the scan, load and validation pause for inference (``modelops.foreground``)."""
    screened = screen_model_bytes(raw, mode=mode, allowlist=allowlist, intake_limits=intake_limits,
                                  scan_limits=scan_limits, hash_allowlist=hash_allowlist,
                                  expected_sha256=expected_sha256, yield_point=yield_point)
    blob, report, timings = screened.blob, screened.report, dict(screened.timings_ms)
    t2 = time.perf_counter()
    try:
        model, load_warnings = restricted_load(blob.payload, allowlist=allowlist, yield_point=yield_point)
        t3 = time.perf_counter()
        timings["load"] = (t3 - t2) * 1000
        info = validate_model(model, allowlist=allowlist, expected_dimension=expected_dimension,
                              yield_point=yield_point)
        if canary:
            canary_predict(model, info)
    except ModelSecurityError as exc:
        exc.report = report
        exc.context.setdefault("sha256", blob.sha256)
        exc.context.setdefault("mode", mode)
        raise
    timings["validate"] = (time.perf_counter() - t3) * 1000
    return CheckedModel(blob=blob, report=report, model=model, info=info, warnings=load_warnings,
                        timings_ms=timings)
