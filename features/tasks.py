from celery import shared_task

from features.services import cad_file_import


@shared_task(name="features.cad_file_import")
def cad_file_import_task(path: str, meta: dict | None = None, feature_version: str | None = None) -> dict:
    """Import one CAD file from a path on this host; returns the outcome (created, duplicate, failed)."""
    return cad_file_import(path=path, meta=meta, feature_version=feature_version)
