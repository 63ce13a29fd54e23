"""Health section and database-backed gauge of the modelops app."""

from __future__ import annotations

from django.conf import settings

from modelops.models import ModelRegistryState
from modelops.registry import holder


def model_health_section() -> dict:
    from modelops.services import model_refresh_if_stale

    model_refresh_if_stale()
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    db_sequence = state.load_sequence if state else 0
    active = state.active.label if state and state.active_id else None
    process = holder.active()
    error = holder.error
    section = {
        "status": "ok",
        "mode": settings.CADML_MODEL_OPCODE_MODE,
        "active_version": active,
        "load_sequence": db_sequence,
        "process_version": process.label if process else None,
        "process_load_sequence": holder.sequence,
        "converging": holder.sequence != db_sequence and error is None,
        "last_error": state.last_error if state else None,
    }
    if error is not None:
        section["status"] = "degraded"
        section["process_error"] = error
        section["detail"] = (f"this process cannot load the active model {error['version']}; "
                             f"it keeps serving {process.label if process else 'no model'}")
    return section


def active_load_sequence_source():
    state = ModelRegistryState.objects.filter(pk=1).values_list("load_sequence", flat=True).first()
    return [({}, float(state or 0))]
