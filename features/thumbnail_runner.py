"""This process's thumbnail runner, held by ``cadml_site.process_state.ProcessLocal``: the background thread that
renders a new file's thumbnail after the response in the embedded default (no broker,
``CADML_EMBEDDED_THUMBNAILS=background``; ``features.services.thumbnail_enqueue``).

Built at the first render in each process (a forked child builds its own: no initialiser); closed, draining what is
queued for at most ``THUMBNAIL_DRAIN_SECONDS``, by its process finaliser (registered in ``FeaturesConfig.ready()``
before the parse pool's, whose workers the renders need), at interpreter exit and by the test reset.
"""

from __future__ import annotations

from django.db import close_old_connections, connections

from cadml_site.background import BackgroundRunner
from cadml_site.process_state import ProcessLocal

# Renders waiting at most (more are skipped and logged: `manage.py render_thumbnails` renders them), and how long a
# stopping process keeps rendering what is queued.
THUMBNAIL_QUEUE_CAPACITY = 128
THUMBNAIL_DRAIN_SECONDS = 5.0


def _build() -> BackgroundRunner:
    # The runner's thread has database connections of its own, treated as a request treats its: before and after
    # every render `close_old_connections` closes one that is broken or older than CONN_MAX_AGE (0 unless
    # DATABASE_URL is set: closed after every render; 60 s with it, so that renders in a row do not each start a
    # Postgres backend) and arms the health check of its next use; they are closed when the thread stops.
    return BackgroundRunner("thumbnail-renders", capacity=THUMBNAIL_QUEUE_CAPACITY,
                            drain_seconds=THUMBNAIL_DRAIN_SECONDS, before_job=close_old_connections,
                            after_job=close_old_connections, on_stop=connections.close_all)


def _close(runner: BackgroundRunner) -> None:
    runner.close()


thumbnail_runners = ProcessLocal("features.thumbnail_runner", build=_build, close=_close)
