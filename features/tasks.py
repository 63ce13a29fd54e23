"""Celery tasks of the features app (the ingest tasks are the analysis app's, `analysis.tasks`)."""

import logging

from celery import shared_task

from cadml_site.errors import ServiceUnavailable
from features.services import cad_file_thumbnail_render

logger = logging.getLogger("cadml.features")


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
