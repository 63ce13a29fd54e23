"""Process convergence: every web and Celery worker process serves the database's active version.

``DatabaseModelSource`` is what the holder (``modelops.registry``) reads the database through: the load
sequence, and ``model_process_sync``, which loads the active version into this process. The per-request check is
cheap and never blocks (``model_refresh_if_stale``: one small query per interval, a background load when the
load sequence moved); a process that cannot load the active version keeps the model it has and records why for
the health section.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import connection

from modelops.models import ModelRegistryState
from modelops.registry import holder
from modelops.security.errors import ModelSecurityError
from modelops.services.reload import active_model_of, load_version

logger = logging.getLogger("cadml.modelops")


def model_process_sync() -> None:
    """Converge this process on the database's active version (keeps the current model on failure)."""
    state = ModelRegistryState.objects.select_related("active").filter(pk=1).first()
    if state is None:  # nothing was ever activated (or the registry was emptied)
        holder.install(None, sequence=0)
        return
    if state.load_sequence == holder.sequence and holder.error is None:
        return
    if state.active is None:
        holder.install(None, sequence=state.load_sequence)
        return
    current = holder.active()
    if current is not None and current.version_id == state.active_id and current.sha256 == state.active.sha256:
        holder.install(current, sequence=state.load_sequence)
        return
    try:
        # Same bytes (sha256) the activating process checked with a canary predict: scan, restricted load
        # and validation run again here, the canary does not.
        checked = load_version(state.active, canary=False)
    except ModelSecurityError as exc:
        logger.error("cannot load the active model %s in pid %s: %s", state.active.label, os.getpid(), exc.message)
        holder.note_error(sequence=state.load_sequence, version=state.active.label, code=exc.code,
                          message=exc.message)
        return
    holder.install(active_model_of(state.active, checked, state.load_sequence), sequence=state.load_sequence)


def database_load_sequence() -> int:
    value = ModelRegistryState.objects.filter(pk=1).values_list("load_sequence", flat=True).first()
    return value or 0


class DatabaseModelSource:
    """The holder's ``ModelSource``: the registry row, read through the services."""

    def load_sequence(self) -> int:
        return database_load_sequence()

    def sync(self) -> None:
        model_process_sync()

    def release_connection(self) -> None:
        connection.close()


def model_refresh_if_stale() -> None:
    """Per-request, cheap, non-blocking convergence check (at most one small query per interval)."""
    holder.refresh_if_stale(interval=settings.CADML_MODEL_SYNC_INTERVAL_SECONDS)
