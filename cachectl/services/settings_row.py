"""The settings row every change writes: locked reads, snapshots, the new generation, the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from cachectl import selectors
from cachectl.holder import holder
from cachectl.models import CacheAuditRecord, CacheSettings, CacheSnapshot
from cachectl.services.entries import STAGE
from cadml_site.errors import BadRequest
from cadml_site.request_context import current_request_id

REASON_MAX_LENGTH = 2000


def audit_record(*, action: str, actor: str, reason: str, before: Any, after: Any) -> CacheAuditRecord:
    return CacheAuditRecord.objects.create(actor=actor, request_id=current_request_id(), action=action,
                                           reason=reason, before=before, after=after)


def check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest("Give a reason: it goes into the audit trail.", code="reason_required", stage=STAGE)
    if len(reason) > REASON_MAX_LENGTH:
        raise BadRequest(f"The reason is limited to {REASON_MAX_LENGTH} characters.", code="reason_too_long",
                         stage=STAGE)
    return reason.strip()


def check_bound(name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise BadRequest(f"{name} must be an integer between 1 and {maximum}.", code="out_of_bounds",
                         stage=STAGE, context={"field": name, "value": str(value)[:40], "min": 1, "max": maximum})
    return value


def locked_settings() -> CacheSettings:
    """The settings row, locked for this transaction (created from the environment defaults if missing)."""
    row = CacheSettings.objects.select_for_update().filter(pk=CacheSettings.SINGLETON_ID).first()
    if row is None:
        CacheSettings.objects.get_or_create(pk=CacheSettings.SINGLETON_ID,
                                            defaults=selectors.cache_settings_defaults())
        row = CacheSettings.objects.select_for_update().get(pk=CacheSettings.SINGLETON_ID)
    return row


def settings_of(row) -> dict:
    return {"capacity": row.capacity, "ttl_seconds": row.ttl_seconds, "policy": row.policy}


def snapshot_take(row: CacheSettings, *, actor: str, reason: str) -> CacheSnapshot:
    return CacheSnapshot.objects.create(
        capacity=row.capacity, ttl_seconds=row.ttl_seconds, policy=row.policy, generation=row.generation,
        stats=selectors.cache_process_stats(), taken_by=actor, reason=reason,
    )


def settings_write(row: CacheSettings, target: dict) -> None:
    """New settings under a new generation: this process applies them at commit, the others within a second."""
    row.capacity, row.ttl_seconds, row.policy = target["capacity"], target["ttl_seconds"], target["policy"]
    row.generation += 1
    row.save()
    transaction.on_commit(holder.sync)
