"""This process's index holder, held by ``cadml_site.process_state.ProcessLocal``.

Built on first use or by the process initialiser (gunicorn ``post_fork``, Celery ``worker_process_init``: the
``restart`` registered in ``VectorsConfig.ready()``), never inherited across fork, dropped by the test reset. Its
start prepares every feature version that has an index state, so a process answers its first search from a
loaded index. The holder reads the database through ``DatabaseIndexSource`` and reports a degradation through
the index service ``index_mark_degraded``, handed to the source here.
"""

from __future__ import annotations

from django.conf import settings

from cadml_site.process_state import ProcessLocal
from features.extractors import dimension
from vectors.index.holder import IndexHolder
from vectors.index_settings import index_config
from vectors.index_source import DatabaseIndexSource
from vectors.models import IndexState
from vectors.services.index_ops import index_mark_degraded


def _build() -> IndexHolder:
    return IndexHolder(DatabaseIndexSource(dimension, mark_degraded=index_mark_degraded),
                       snapshot_root=settings.CADML_INDEX_DIR, dimension_of=dimension, config=index_config())


def _prepare_every_version(holder: IndexHolder) -> None:
    for feature_version in IndexState.objects.values_list("feature_version", flat=True):
        holder.prepare(feature_version)


index_holders = ProcessLocal("vectors.index_holder", build=_build, start=_prepare_every_version)


def index_holder() -> IndexHolder:
    """This process's holder (built and started on first use)."""
    return index_holders.get()


def reset_index_holder() -> None:
    """Drops this process's holder (tests; a process starting now); the next search builds and loads afresh."""
    index_holders.reset()
