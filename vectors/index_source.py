"""The database side of the holder's ``IndexSource`` protocol (and the shared snapshot storage)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vectors.index.holder import ChangeSet, SourceState
from vectors.models import IndexState, Vector, VectorDeletion
from vectors.snapshot_storage import snapshot_fetch

CHUNK = 20_000


def _rows(queryset, dimension_hint: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    blobs: list[bytes] = []
    for pk, values in queryset.order_by("id").values_list("id", "values").iterator(chunk_size=CHUNK):
        ids.append(pk)
        blobs.append(bytes(values))
    id_array = np.array(ids, dtype=np.int64)
    if not ids:
        return id_array, np.empty((0, dimension_hint or 0), np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(len(ids), -1)
    return id_array, matrix


class DatabaseIndexSource:
    """Reads generations, rows and the change log; reports a degradation to ``mark_degraded`` (the index service
    ``vectors.services.index_ops.index_mark_degraded``, handed in by whoever builds the source, so this module
    imports no service)."""

    def __init__(self, dimension_of: Callable[[str], int], *, mark_degraded: Callable[..., object]):
        self.dimension_of = dimension_of
        self.mark_degraded = mark_degraded

    def state(self, feature_version: str) -> SourceState:
        row = (IndexState.objects.filter(feature_version=feature_version)
               .values_list("generation", "epoch", "degraded", "snapshot_generation", "incarnation").first())
        if row is None:
            return SourceState(0, 0, False, None)
        return SourceState(*row)

    def _generation(self, feature_version: str) -> int:
        return self.state(feature_version).generation

    def load_all(self, feature_version: str) -> ChangeSet:
        generation = self._generation(feature_version)
        ids, matrix = _rows(Vector.objects.filter(feature_version=feature_version, generation__lte=generation),
                            self.dimension_of(feature_version))
        return ChangeSet(generation, np.empty(0, np.int64), ids, matrix)

    def changes_since(self, feature_version: str, generation: int, up_to: int | None = None) -> ChangeSet:
        current = self._generation(feature_version) if up_to is None else up_to
        changed = Vector.objects.filter(feature_version=feature_version, generation__gt=generation,
                                        generation__lte=current)
        ids, matrix = _rows(changed, self.dimension_of(feature_version))
        replaced = list(changed.filter(created_generation__lte=generation).values_list("id", flat=True))
        deleted = list(VectorDeletion.objects.filter(feature_version=feature_version, generation__gt=generation,
                                                     generation__lte=current).values_list("vector_id", flat=True))
        return ChangeSet(current, np.array(deleted + replaced, dtype=np.int64), ids, matrix)

    def report_degraded(self, feature_version: str, reason: str, error: str) -> None:
        self.mark_degraded(feature_version=feature_version, reason=reason, error=error)

    def fetch_snapshot(self, feature_version: str, generation: int, root: Path) -> bool:
        """Copies the snapshot another host published for ``generation`` into this host's folder
        (``vectors.snapshot_storage``)."""
        return snapshot_fetch(root=root, feature_version=feature_version, generation=generation) == "success"
