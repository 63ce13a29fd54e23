import logging

from celery import shared_task

from cadml_site.errors import ServiceUnavailable
from features.services import cad_file_import, cad_file_import_stored, cad_file_thumbnail_render

logger = logging.getLogger("cadml.features")


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


@shared_task(name="features.cad_file_thumbnail", bind=True, max_retries=5)
def cad_file_thumbnail_task(self, cad_file_id: int) -> dict:
    """Render one stored file's thumbnail (from the cad_originals storage); retries a failing storage or pool."""
    try:
        return cad_file_thumbnail_render(cad_file_id=cad_file_id)
    except ServiceUnavailable as exc:
        if self.request.is_eager:  # the embedded default: no broker to retry through; `render_thumbnails` backfills
            logger.warning("thumbnail of CAD file %s deferred: %s", cad_file_id, exc.code)
            return {"status": "deferred", "code": exc.code}
        raise self.retry(exc=exc, countdown=30)
