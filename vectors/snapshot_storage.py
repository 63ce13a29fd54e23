"""Index snapshots shared between hosts through the ``index_snapshots`` storage (``settings.STORAGES``).

Each host keeps the snapshot its workers map in its own ``CADML_INDEX_DIR``. A rebuild (on any host) publishes the
snapshot it wrote: ``<version>/<generation>/<index file>``, ``<ids file>``, then ``manifest.json`` last, so a
reader that finds the manifest finds the files it names. A host whose folder lacks the generation the database
records fetches it (``snapshot_fetch``): the files are streamed into the folder, checked against the manifest's
sha256 sums and renamed into place, the manifest last (``vectors.index.snapshot.install_snapshot``). A missing,
corrupt or unreachable object fetches nothing; the holder then does what it does without a snapshot.

The newest ``KEEP_GENERATIONS`` generations of a version are kept, so a host still fetching the previous one
finds it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from cadml_site import metrics
from features.originals import STORAGE_ERRORS
from vectors.index.errors import SnapshotError, SnapshotMissingError
from vectors.index.snapshot import MANIFEST, SnapshotManifest, install_snapshot, read_manifest, version_dir

logger = logging.getLogger("cadml.vectors.snapshots")

SNAPSHOTS_ALIAS = "index_snapshots"
KEEP_GENERATIONS = 2


def snapshots_storage() -> Storage:
    return storages[SNAPSHOTS_ALIAS]


def _key(feature_version: str, generation: int, name: str) -> str:
    version_dir(Path("."), feature_version)  # rejects an unsafe version name
    return f"{feature_version}/{int(generation)}/{name}"


def _put(storage: Storage, key: str, content) -> None:
    saved = storage.save(key, content)
    if saved != key:  # a backend that renamed instead of replacing would publish a manifest nobody reads
        storage.delete(saved)
        raise OSError(f"the snapshot storage stored {key!r} as {saved!r}; it must overwrite in place")


def snapshot_publish(*, root: Path, feature_version: str) -> SnapshotManifest:
    """Publishes the snapshot in ``root`` (written and verified by the rebuild) and prunes older generations.
    Raises the storage's error when it fails (the rebuild then fails and is retried)."""
    manifest = read_manifest(root, feature_version)
    folder = version_dir(root, feature_version)
    storage = snapshots_storage()
    try:
        for name in (manifest.index_file, manifest.ids_file):
            with open(folder / name, "rb") as handle:
                _put(storage, _key(feature_version, manifest.generation, name), File(handle, name=name))
        manifest_bytes = (folder / MANIFEST).read_bytes()
        _put(storage, _key(feature_version, manifest.generation, MANIFEST), ContentFile(manifest_bytes))
        _prune(storage, feature_version, manifest)
    except STORAGE_ERRORS:
        metrics.INDEX_SNAPSHOT_TRANSFERS_TOTAL.labels(direction="publish", result="error").inc()
        raise
    metrics.INDEX_SNAPSHOT_TRANSFERS_TOTAL.labels(direction="publish", result="success").inc()
    logger.info("Published index snapshot %s generation %d (%d vectors)", feature_version, manifest.generation,
                manifest.count)
    return manifest


def _prune(storage: Storage, feature_version: str, published: SnapshotManifest) -> None:
    """Removes generations older than the newest ``KEEP_GENERATIONS``, and the files of the published generation
    that its manifest no longer names (an earlier publication of the same generation)."""
    generations, _ = storage.listdir(feature_version)
    numbered = sorted((int(g) for g in generations if g.isdigit()), reverse=True)
    for generation in numbered[KEEP_GENERATIONS:]:
        for name in storage.listdir(f"{feature_version}/{generation}")[1]:
            storage.delete(_key(feature_version, generation, name))
    for name in storage.listdir(f"{feature_version}/{published.generation}")[1]:
        if name not in (MANIFEST, published.index_file, published.ids_file):
            storage.delete(_key(feature_version, published.generation, name))


def snapshot_fetch(*, root: Path, feature_version: str, generation: int) -> str:
    """Copies the published snapshot of ``generation`` into ``root`` after verifying it; returns the outcome
    (success, missing, corrupt, error), counted in ``index_snapshot_transfers_total{direction="fetch"}``."""
    storage = snapshots_storage()
    try:
        manifest_key = _key(feature_version, generation, MANIFEST)
        if not storage.exists(manifest_key):
            raise SnapshotMissingError(f"no published snapshot {manifest_key}")
        with storage.open(manifest_key, "rb") as handle:
            manifest_bytes = handle.read()
        manifest = install_snapshot(root, feature_version, manifest_bytes,
                                    lambda name: storage.open(_key(feature_version, generation, name), "rb"))
        if manifest.generation != generation:
            raise SnapshotError(f"published snapshot {manifest_key} is generation {manifest.generation}")
        result = "success"
    except SnapshotMissingError as exc:
        result, error = "missing", exc
    except FileNotFoundError as exc:  # a file the manifest names is gone (pruned or deleted)
        result, error = "missing", exc
    except SnapshotError as exc:
        result, error = "corrupt", exc
    except STORAGE_ERRORS as exc:
        result, error = "error", exc
    metrics.INDEX_SNAPSHOT_TRANSFERS_TOTAL.labels(direction="fetch", result=result).inc()
    if result == "success":
        logger.info("Loaded index snapshot %s generation %d from the snapshot storage (%d vectors)",
                    feature_version, generation, manifest.count)
    else:
        logger.warning("Could not fetch index snapshot %s generation %d (%s): %r", feature_version, generation,
                       result, error)
    return result
