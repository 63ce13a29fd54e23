"""The model registry's records: the opcode audit of every scan and one append-only attempt row per action."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cadml_site.metrics import MODEL_OPCODE_AUDIT_TOTAL, MODEL_OPCODE_WHITELIST_VIOLATIONS_TOTAL
from cadml_site.request_context import current_request_id
from modelops.models import ModelRegistryState, ModelReloadAttempt, ModelVersion, OpcodeAuditEntry
from modelops.security.scanner import ScanReport

MAX_SAMPLE_VERSIONS = 5


def opcode_audit_record(*, report: ScanReport, tag: str) -> None:
    """Aggregate what one scan saw (any mode, refused or not) and count it in the metrics."""
    MODEL_OPCODE_AUDIT_TOTAL.inc(report.n_opcodes)
    if report.mode == "whitelist" and report.findings:
        MODEL_OPCODE_WHITELIST_VIOLATIONS_TOTAL.inc(len(report.findings))
    now = timezone.now()
    seen = [(OpcodeAuditEntry.Kind.OPCODE, name[:300], count) for name, count in report.opcodes.items()]
    seen += [(OpcodeAuditEntry.Kind.GLOBAL, name[:300], count) for name, count in report.globals.items()]
    if not seen:
        return
    with transaction.atomic():
        OpcodeAuditEntry.objects.bulk_create(
            [OpcodeAuditEntry(kind=kind, name=name, count=0, samples=0, first_seen=now, last_seen=now)
             for kind, name, _ in seen], ignore_conflicts=True)
        rows = {(row.kind, row.name): row for row in OpcodeAuditEntry.objects.select_for_update().filter(
            kind__in=[OpcodeAuditEntry.Kind.OPCODE, OpcodeAuditEntry.Kind.GLOBAL],
            name__in=[name for _, name, _ in seen])}
        changed = []
        for kind, name, count in seen:
            row = rows.get((kind, name))
            if row is None:
                continue
            row.count += count
            row.samples += 1
            row.last_seen = now
            if tag not in row.sample_versions and len(row.sample_versions) < MAX_SAMPLE_VERSIONS:
                row.sample_versions = [*row.sample_versions, tag]
            changed.append(row)
        OpcodeAuditEntry.objects.bulk_update(changed, ["count", "samples", "last_seen", "sample_versions"])
        ModelRegistryState.objects.get_or_create(pk=1)
        ModelRegistryState.objects.filter(pk=1).update(scans_recorded=F("scans_recorded") + 1)


def attempt_record(*, action: str, actor: str, version: ModelVersion | None, sha256: str, mode: str, code: str,
                   stage: str = "", message: str = "", findings: list | None = None, duration_s: float,
                   reason: str = "", before: dict | None = None, after: dict | None = None) -> ModelReloadAttempt:
    """One append-only ``ModelReloadAttempt`` (upload, register, train, reload, activate, rollback)."""
    outcome = ModelReloadAttempt.Outcome.SUCCESS if code == "success" else ModelReloadAttempt.Outcome.REFUSED
    return ModelReloadAttempt.objects.create(
        action=action, actor=actor[:150], request_id=current_request_id() or "", reason=reason, before=before,
        after=after, version=version, sha256=sha256, mode=mode, outcome=outcome, code=code, stage=stage,
        message=message[:2000], findings=findings or [], duration_ms=round(duration_s * 1000, 3))


def scan_findings(report: ScanReport | None) -> list:
    return [f.as_dict() for f in report.findings[:50]] if report is not None else []


def state_snapshot(state: ModelRegistryState) -> dict:
    return {"active": state.active.label if state.active_id else None, "load_sequence": state.load_sequence,
            "previous": list(state.previous_ids)}
