"""Celery tasks of the ingest path (`manage.py ingest`).

The task names keep their `features.` prefix from before the analysis app existed: messages already queued by an
earlier release, and docs/operations.md, name them so. Do not rename them.
"""

from celery import shared_task

from analysis.services import cad_file_import, cad_file_import_stored


@shared_task(name="features.cad_file_import")
def cad_file_import_task(path: str, meta: dict | None = None, feature_version: str | None = None) -> dict:
    """Import one CAD file from a path on this host; returns the outcome (created, duplicate, failed).

    Kept for tasks queued by an earlier release; `manage.py ingest` now sends `features.cad_file_import_stored`."""
    return cad_file_import(path=path, meta=meta, feature_version=feature_version)


@shared_task(name="features.cad_file_import_stored")
def cad_file_import_stored_task(sha256: str, name: str, meta: dict | None = None, feature_version: str | None = None,
                                path: str = "") -> dict:
    """Import one CAD file from its original in the cad_originals storage (any host); `path` is for reports only."""
    return cad_file_import_stored(sha256=sha256, name=name, meta=meta, feature_version=feature_version, path=path)
