"""This process's thumbnail runner, held by ``cadml_site.process_state.ProcessLocal``: the background thread that
renders a new file's thumbnail after the response in the embedded default (no broker,
``CADML_EMBEDDED_THUMBNAILS=background``; ``features.services.thumbnail_enqueue``).

Built at the first render in each process (a forked child builds its own: no initialiser); closed, draining what is
queued for at most ``THUMBNAIL_DRAIN_SECONDS``, by its process finaliser (registered in ``FeaturesConfig.ready()``
before the parse pool's, whose workers the renders need), at interpreter exit and by the test reset.
"""

from __future__ import annotations

from django.db import connections

from cadml_site.background import BackgroundRunner
from cadml_site.process_state import ProcessLocal

# Renders waiting at most (more are skipped and logged: `manage.py render_thumbnails` renders them), and how long a
# stopping process keeps rendering what is queued.
THUMBNAIL_QUEUE_CAPACITY = 128
THUMBNAIL_DRAIN_SECONDS = 5.0


def _build() -> BackgroundRunner:
    # the runner's thread opens its own database connections: closed after every render, none is left idle
    return BackgroundRunner("thumbnail-renders", capacity=THUMBNAIL_QUEUE_CAPACITY,
                            drain_seconds=THUMBNAIL_DRAIN_SECONDS, after_job=connections.close_all)


def _close(runner: BackgroundRunner) -> None:
    runner.close()


thumbnail_runners = ProcessLocal("features.thumbnail_runner", build=_build, close=_close)
