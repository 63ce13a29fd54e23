"""Celery tasks of the features app (the ingest tasks are the analysis app's, `analysis.tasks`)."""

import logging

from celery import shared_task

from cadml_site.errors import ServiceUnavailable
from features.services import cad_file_thumbnail_render

logger = logging.getLogger("cadml.features")


# ignore_result: nobody waits for a thumbnail's result (the row records it). With the rpc result backend a task sent
# for a result costs the sender a reply-queue declaration (a broker round trip) on every new file, and the result
# would sit unread in the web process's reply queue for as long as that process lives.
@shared_task(name="features.cad_file_thumbnail", bind=True, max_retries=5, ignore_result=True)
def cad_file_thumbnail_task(self, cad_file_id: int) -> dict:
    """Render one stored file's thumbnail (from the cad_originals storage); retries a failing storage or pool. Its
    outcome is recorded on the row (`thumbnail_key`, `thumbnail_error`), not as a task result."""
    try:
        return cad_file_thumbnail_render(cad_file_id=cad_file_id)
    except ServiceUnavailable as exc:
        if self.request.is_eager:  # the embedded default: no broker to retry through; `render_thumbnails` backfills
            logger.warning("thumbnail of CAD file %s deferred: %s", cad_file_id, exc.code)
            return {"status": "deferred", "code": exc.code}
        raise self.retry(exc=exc, countdown=30)
