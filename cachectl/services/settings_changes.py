"""Settings changes: apply new settings or restore a snapshot; each opens a rollback window."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cachectl.core import POLICIES
from cachectl.models import CacheSettingsChange, CacheSnapshot
from cachectl.services.entries import STAGE
from cachectl.services.rollback_window import close_expired_or_refuse
from cachectl.services.settings_row import (
    audit_record,
    check_bound,
    check_reason,
    locked_settings,
    settings_of,
    settings_write,
    snapshot_take,
)
from cadml_site.errors import BadRequest, Conflict, NotFound


def _change_settings(*, kind: str, changes: dict, actor: str, reason: str,
                     restored_from: CacheSnapshot | None = None) -> CacheSettingsChange:
    now = timezone.now()
    row = locked_settings()
    close_expired_or_refuse(now, actor=actor)
    before = settings_of(row)
    target = {**before, **changes}
    if target == before:
        raise Conflict("These are already the current settings.", code="settings_unchanged", stage=STAGE,
                       context={"settings": before})
    snapshot = snapshot_take(row, actor=actor, reason=f"before {kind}: {reason}")
    settings_write(row, target)
    deadline = now + timedelta(seconds=settings.CADML_CACHE_ROLLBACK_WINDOW_SECONDS)
    change = CacheSettingsChange.objects.create(
        kind=kind, actor=actor, reason=reason, before=before, after=target, generation=row.generation,
        snapshot=snapshot, restored_from=restored_from, deadline=deadline,
        outcome=CacheSettingsChange.Outcome.OPEN,
    )
    audit_record(action=kind, actor=actor, reason=reason, before=before,
                 after={**target, "change_id": change.pk, "snapshot_id": snapshot.pk,
                        "deadline": deadline.isoformat(),
                        **({"restored_from": restored_from.pk} if restored_from else {})})
    return change


@transaction.atomic
def cache_settings_apply(*, actor: str, reason: str, capacity: int | None = None, ttl_seconds: int | None = None,
                         policy: str | None = None) -> CacheSettingsChange:
    """Snapshot the current settings, apply the new ones and open a rollback window (409 while one is open)."""
    reason = check_reason(reason)
    if capacity is None and ttl_seconds is None and policy is None:
        raise BadRequest("Give capacity, ttl_seconds and/or policy.", code="nothing_to_apply", stage=STAGE)
    if capacity is not None:
        check_bound("capacity", capacity, settings.CADML_CACHE_MAX_CAPACITY)
    if ttl_seconds is not None:
        check_bound("ttl_seconds", ttl_seconds, settings.CADML_CACHE_MAX_TTL_SECONDS)
    if policy is not None and policy not in POLICIES:
        raise BadRequest(f"policy must be one of {', '.join(POLICIES)}.", code="out_of_bounds", stage=STAGE,
                         context={"field": "policy", "value": str(policy)[:40]})
    changes = {name: value for name, value in
               (("capacity", capacity), ("ttl_seconds", ttl_seconds), ("policy", policy)) if value is not None}
    return _change_settings(kind=CacheSettingsChange.Kind.APPLY, changes=changes, actor=actor, reason=reason)


@transaction.atomic
def cache_snapshot_restore(*, snapshot_id: int, actor: str, reason: str) -> CacheSettingsChange:
    """Apply a snapshot's settings, with the same window rules as an apply (it opens a new window)."""
    reason = check_reason(reason)
    in_range = isinstance(snapshot_id, int) and 0 < snapshot_id < 2**63
    snapshot = CacheSnapshot.objects.filter(pk=snapshot_id).first() if in_range else None
    if snapshot is None:
        raise NotFound(f"No cache snapshot {snapshot_id}.", code="snapshot_not_found", stage=STAGE,
                       context={"snapshot_id": snapshot_id})
    target = snapshot.settings_dict()
    target["capacity"] = min(target["capacity"], settings.CADML_CACHE_MAX_CAPACITY)
    target["ttl_seconds"] = min(target["ttl_seconds"], settings.CADML_CACHE_MAX_TTL_SECONDS)
    return _change_settings(kind=CacheSettingsChange.Kind.RESTORE, changes=target, actor=actor, reason=reason,
                            restored_from=snapshot)
