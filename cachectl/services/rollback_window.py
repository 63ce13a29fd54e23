"""The rollback window a settings change opens: refused changes while it is open, rollback inside it, confirm."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cachectl.models import CacheSettingsChange
from cachectl.services.entries import STAGE
from cachectl.services.settings_row import (
    audit_record,
    check_reason,
    locked_settings,
    settings_of,
    settings_write,
    snapshot_take,
)
from cadml_site.errors import Conflict


def window_context(change: CacheSettingsChange, now) -> dict:
    return {"change_id": change.pk, "deadline": change.deadline.isoformat(),
            "seconds_left": round(max(0.0, (change.deadline - now).total_seconds()), 3)}


def close_expired_or_refuse(now, *, actor: str) -> None:
    """A change while a window is open is refused; a window past its deadline is closed as superseded."""
    change = CacheSettingsChange.objects.select_for_update().filter(
        outcome=CacheSettingsChange.Outcome.OPEN).order_by("-created_at", "-id").first()
    if change is None:
        return
    if change.deadline > now:
        raise Conflict("A rollback window is open: confirm or roll back the last change first.",
                       code="rollback_window_active", stage=STAGE, context=window_context(change, now))
    change.outcome = CacheSettingsChange.Outcome.SUPERSEDED
    change.resolved_at, change.resolved_by = now, actor
    change.save(update_fields=["outcome", "resolved_at", "resolved_by"])


@transaction.atomic
def cache_settings_rollback(*, actor: str, reason: str) -> CacheSettingsChange:
    """Restore the snapshot taken by the last change, inside its rollback window."""
    reason = check_reason(reason)
    now = timezone.now()
    row = locked_settings()
    last = (CacheSettingsChange.objects.select_for_update().select_related("snapshot")
            .exclude(kind=CacheSettingsChange.Kind.ROLLBACK).order_by("-created_at", "-id").first())
    if last is None or last.outcome in (CacheSettingsChange.Outcome.CONFIRMED,
                                        CacheSettingsChange.Outcome.ROLLED_BACK):
        raise Conflict("There is no change to roll back.", code="nothing_to_rollback", stage=STAGE,
                       context={"change_id": last.pk, "outcome": last.outcome} if last else {})
    if last.outcome != CacheSettingsChange.Outcome.OPEN or last.deadline <= now:
        raise Conflict("The rollback window of the last change has expired; restore a snapshot instead.",
                       code="rollback_window_expired", stage=STAGE, context=window_context(last, now))
    before = settings_of(row)
    target = last.snapshot.settings_dict()
    snapshot = snapshot_take(row, actor=actor, reason=f"before rollback of change {last.pk}: {reason}")
    settings_write(row, target)
    last.outcome = CacheSettingsChange.Outcome.ROLLED_BACK
    last.resolved_at, last.resolved_by = now, actor
    last.save(update_fields=["outcome", "resolved_at", "resolved_by"])
    rollback = CacheSettingsChange.objects.create(
        kind=CacheSettingsChange.Kind.ROLLBACK, actor=actor, reason=reason, before=before, after=target,
        generation=row.generation, snapshot=snapshot, restored_from=last.snapshot, deadline=None,
        outcome=CacheSettingsChange.Outcome.NO_WINDOW,
    )
    audit_record(action="rollback", actor=actor, reason=reason, before=before,
                 after={**target, "rolled_back_change_id": last.pk, "change_id": rollback.pk,
                        "snapshot_id": snapshot.pk})
    return rollback


@transaction.atomic
def cache_settings_confirm(*, actor: str, reason: str = "") -> CacheSettingsChange:
    """Close the open rollback window early (or an expired one nobody confirmed): the change stands."""
    reason = reason.strip() if isinstance(reason, str) else ""
    now = timezone.now()
    locked_settings()
    change = CacheSettingsChange.objects.select_for_update().filter(
        outcome=CacheSettingsChange.Outcome.OPEN).order_by("-created_at", "-id").first()
    if change is None:
        raise Conflict("No rollback window is open.", code="no_open_window", stage=STAGE)
    change.outcome = CacheSettingsChange.Outcome.CONFIRMED
    change.resolved_at, change.resolved_by = now, actor
    change.save(update_fields=["outcome", "resolved_at", "resolved_by"])
    audit_record(action="confirm", actor=actor, reason=reason, before=window_context(change, now),
                 after={"change_id": change.pk, "outcome": change.outcome, **change.after})
    return change
