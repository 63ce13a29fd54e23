"""The served feature version: the one default of every app, recorded in the database once.

The rule (docs/operations.md, "Served version"): the version recorded in ``ServedVersion`` is the default of
analyze (which produces and registers it), ``manage.py ingest``, ``GET vectors/``, similarity, ``GET
features/versions/`` (``default``), ``GET features/slots/``, the demo classifier and health. It is recorded the first
time anything needs it:

- a database that already holds vectors keeps what it serves: ``CADML_FEATURE_VERSION`` when vectors of that
  version exist, else the version with the most vectors (an installation upgraded past a change of the default);
- an empty database takes ``CADML_FEATURE_VERSION`` (v5 unless configured).

Afterwards only a completed ``POST vectors/migrate/`` changes it, in the same transaction that publishes the
migrated vectors; changing ``CADML_FEATURE_VERSION`` later does not upgrade an installation silently.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count

from vectors.models import ServedVersion, Vector, VectorOpsAudit

logger = logging.getLogger("cadml.vectors")


def _initial_served_version() -> tuple[str, dict[str, int]]:
    counts = dict(Vector.objects.order_by().values_list("feature_version").annotate(n=Count("id")))
    configured = settings.CADML_FEATURE_VERSION
    if not counts or counts.get(configured):
        return configured, counts
    return max(counts, key=lambda version: (counts[version], version)), counts


def served_version_record() -> str:
    """Records the served version if none is recorded yet (see the module's rule) and returns the recorded one."""
    version, counts = _initial_served_version()
    try:
        with transaction.atomic():
            row, created = ServedVersion.objects.get_or_create(singleton=1, defaults={"feature_version": version})
            if created:
                VectorOpsAudit.objects.create(
                    actor="system", action="served_version_recorded", feature_version=version, before=None,
                    after={"feature_version": version, "configured": settings.CADML_FEATURE_VERSION,
                           "vectors_per_version": counts})
    except IntegrityError:  # recorded concurrently by another process
        row, created = ServedVersion.objects.get(singleton=1), False
    if created:
        logger.info("served feature version recorded: %s (configured %s, vectors %s)", version,
                    settings.CADML_FEATURE_VERSION, counts)
    return row.feature_version
