"""Atomic index snapshots with a verified JSON manifest.

Layout: ``<root>/<feature_version>/manifest.json`` naming ``index-<generation>-<token>.faiss`` and
``ids-<generation>-<token>.bin`` (little-endian int64). Every file is written to a temporary name in the same
folder, fsynced and renamed; the manifest is renamed last, so a reader sees either the old snapshot or the new
one, never a mix. ``read_snapshot`` checks the sha256 of both files, the count, dimension and feature version.
``pinned_snapshot`` makes the same checks by streaming the files (no copy in memory) and returns the paths of
files to map read-only instead (``vectors.index.shared_store``). Snapshot files are never rewritten in
place (a new snapshot has new names). Still, a file can be damaged on disk behind the service's back (truncated,
bit-flipped, deleted): a mapped file that shrinks kills the next search with SIGBUS, and a flipped bit would be
served. So what processes map is never the snapshot file itself but a **pinned copy** (``pinned_snapshot``):
``<root>/.mapped/<feature_version>/``, written once per host by the first process that loads the generation,
verified against the manifest's sha256 while it is copied, renamed into place read-only, and used by every other
process of the host after checking its sha256 again. Damage to the snapshot then reaches no serving process (they
keep answering from the verified copy); the next load checks the snapshot file too, finds it corrupt and degrades
to exact search until a rebuild writes a sound one. ``install_snapshot``
copies a snapshot published elsewhere (``vectors.snapshot_storage``) into the folder, checking every checksum
before anything is renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vectors.index.errors import SnapshotCorruptError, SnapshotError, SnapshotMissingError

FORMAT = 1
MANIFEST = "manifest.json"
_VERSION_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class SnapshotManifest:
    feature_version: str
    generation: int
    count: int
    dimension: int
    kind: str
    index_file: str
    index_sha256: str
    ids_file: str
    ids_sha256: str
    created_at: float
    format: int = FORMAT


def version_dir(root: Path, feature_version: str) -> Path:
    if not _VERSION_RE.match(feature_version):
        raise SnapshotError(f"unsafe feature version name {feature_version!r}")
    return Path(root) / feature_version


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a fsynced temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _remove_stale(folder: Path, manifest: SnapshotManifest) -> None:
    """Removes the files of the snapshot ``manifest`` replaced (temporary files of a concurrent writer stay)."""
    for stale in folder.iterdir():
        if stale.name not in (MANIFEST, manifest.index_file, manifest.ids_file) and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)


def write_snapshot(root: Path, *, feature_version: str, generation: int, dimension: int, kind: str,
                   index_bytes: bytes, ids: np.ndarray) -> SnapshotManifest:
    """Writes a snapshot atomically and removes the files of the one it replaces."""
    folder = version_dir(root, feature_version)
    folder.mkdir(parents=True, exist_ok=True)
    ids_bytes = np.ascontiguousarray(ids, dtype="<i8").tobytes()
    token = secrets.token_hex(4)
    manifest = SnapshotManifest(
        feature_version=feature_version, generation=int(generation), count=len(ids_bytes) // 8,
        dimension=int(dimension), kind=kind,
        index_file=f"index-{generation}-{token}.faiss", index_sha256=hashlib.sha256(index_bytes).hexdigest(),
        ids_file=f"ids-{generation}-{token}.bin", ids_sha256=hashlib.sha256(ids_bytes).hexdigest(),
        created_at=time.time(),
    )
    atomic_write(folder / manifest.index_file, index_bytes)
    atomic_write(folder / manifest.ids_file, ids_bytes)
    atomic_write(folder / MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
    _remove_stale(folder, manifest)
    return manifest


def read_manifest(root: Path, feature_version: str) -> SnapshotManifest:
    path = version_dir(root, feature_version) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SnapshotMissingError(f"no snapshot manifest at {path}") from exc
    except OSError as exc:
        raise SnapshotCorruptError(f"unreadable snapshot manifest {path}: {exc}") from exc
    return parse_manifest(raw, feature_version, where=str(path))


def parse_manifest(raw: bytes, feature_version: str, *, where: str) -> SnapshotManifest:
    """The manifest in ``raw`` after checking its format, version and file names (``where`` names it in errors)."""
    try:
        manifest = SnapshotManifest(**json.loads(raw))
    except ValueError as exc:
        raise SnapshotCorruptError(f"unreadable snapshot manifest {where}: {exc}") from exc
    except TypeError as exc:
        raise SnapshotCorruptError(f"malformed snapshot manifest {where}: {exc}") from exc
    if manifest.format != FORMAT or manifest.feature_version != feature_version:
        raise SnapshotCorruptError(f"snapshot manifest {where} is for {manifest.feature_version!r} format "
                                   f"{manifest.format}, expected {feature_version!r} format {FORMAT}")
    for name in (manifest.index_file, manifest.ids_file):
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") or name == MANIFEST:
            raise SnapshotCorruptError(f"snapshot manifest {where} names an unsafe file {name!r}")
    return manifest


def _read_verified(folder: Path, name: str, sha256: str) -> bytes:
    try:
        data = (folder / name).read_bytes()
    except FileNotFoundError as exc:
        raise SnapshotMissingError(f"snapshot file {folder / name} is missing") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SnapshotCorruptError(f"snapshot file {folder / name} fails its sha256 check")
    return data


def read_snapshot(root: Path, feature_version: str, *, dimension: int) -> tuple[SnapshotManifest, bytes, np.ndarray]:
    """Returns (manifest, index bytes, ids) after verifying checksums, count, dimension and version."""
    manifest = read_manifest(root, feature_version)
    if manifest.dimension != dimension:
        raise SnapshotCorruptError(f"snapshot dimension {manifest.dimension} != expected {dimension}")
    folder = version_dir(root, feature_version)
    index_bytes = _read_verified(folder, manifest.index_file, manifest.index_sha256)
    ids_bytes = _read_verified(folder, manifest.ids_file, manifest.ids_sha256)
    ids = np.frombuffer(ids_bytes, dtype="<i8").astype(np.int64)
    if ids.shape[0] != manifest.count:
        raise SnapshotCorruptError(f"snapshot holds {ids.shape[0]} ids, manifest says {manifest.count}")
    return manifest, index_bytes, ids


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise SnapshotMissingError(f"snapshot file {path} is missing") from exc
    return digest.hexdigest()


PINNED_DIR = ".mapped"
_GENERATION_OF_FILE = re.compile(r"^(?:index|ids)-(\d+)-[0-9a-f]+\.(?:faiss|bin)$")


def _write_verified(source: BinaryIO, target: Path, expected: str, *, label: str, durable: bool = False,
                    read_only: bool = False) -> None:
    """Streams ``source`` to a temporary file beside ``target`` and renames it into place only if its bytes hash to
    ``expected`` (fsynced first when ``durable``); otherwise ``target`` is left as it was."""
    temporary = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    digest = hashlib.sha256()
    try:
        with open(temporary, "wb") as dst:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
            if durable:
                dst.flush()
                os.fsync(dst.fileno())
        if digest.hexdigest() != expected:
            raise SnapshotCorruptError(f"{label} fails its sha256 check")
        if read_only:
            os.chmod(temporary, 0o444)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _copy_verified(source: Path, target: Path, expected: str) -> None:
    """Copy `source` to `target` (read-only, renamed into place) if its bytes hash to `expected`."""
    try:
        with open(source, "rb") as src:
            _write_verified(src, target, expected, label=f"snapshot file {source}", read_only=True)
    except FileNotFoundError as exc:
        raise SnapshotMissingError(f"snapshot file {source} is missing") from exc
    except OSError as exc:  # the folder is not writable, the disk is full...
        raise SnapshotError(f"snapshot file {source} cannot be pinned: {exc}") from exc


def pinned_snapshot(root: Path, feature_version: str, *, dimension: int) -> VerifiedSnapshot:
    """The checks of ``read_snapshot`` (checksums, count, dimension, version), made while streaming the files, and
    the paths of this host's pinned copy of them (made now when missing or damaged): the files to map or read (see
    the module's docstring). The snapshot files are checked at every load even when the copy is sound."""
    manifest = read_manifest(root, feature_version)
    if manifest.dimension != dimension:
        raise SnapshotCorruptError(f"snapshot dimension {manifest.dimension} != expected {dimension}")
    source, pinned = version_dir(root, feature_version), Path(root) / PINNED_DIR / feature_version
    try:
        pinned.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SnapshotError(f"no folder for the pinned snapshot {pinned}: {exc}") from exc
    for name, expected in ((manifest.index_file, manifest.index_sha256), (manifest.ids_file, manifest.ids_sha256)):
        # the snapshot file is checked at every load, so damage on disk is seen (and degrades) even when the copy
        # this host maps is sound
        if _sha256_of_file(source / name) != expected:
            raise SnapshotCorruptError(f"snapshot file {source / name} fails its sha256 check")
        target = pinned / name
        if not target.exists() or _sha256_of_file(target) != expected:
            _copy_verified(source / name, target, expected)
    ids_path = pinned / manifest.ids_file
    if ids_path.stat().st_size != 8 * manifest.count:
        raise SnapshotCorruptError(f"snapshot holds {ids_path.stat().st_size // 8} ids, manifest says "
                                   f"{manifest.count}")
    for stale in pinned.iterdir():  # older generations only: a process may be pinning a newer one right now
        match = _GENERATION_OF_FILE.match(stale.name)
        if match and int(match.group(1)) < manifest.generation:
            try:
                stale.unlink(missing_ok=True)  # processes that still map it keep their pages
            except OSError:  # a read-only folder: the old copy stays until a later load can remove it
                pass
    return VerifiedSnapshot(manifest, pinned / manifest.index_file, ids_path)


@dataclass(frozen=True)
class VerifiedSnapshot:
    manifest: SnapshotManifest
    index_path: Path
    ids_path: Path


def install_snapshot(root: Path, feature_version: str, manifest_bytes: bytes,
                     open_file: Callable[[str], AbstractContextManager[BinaryIO]]) -> SnapshotManifest:
    """Copies a snapshot kept elsewhere (another host's, through a shared storage) into ``root``.

    ``open_file(name)`` opens one file the manifest names. Each file is streamed to a temporary name, checked
    against the manifest's sha256 and renamed; the manifest is written last, so a reader of ``root`` sees either
    the snapshot it had or the complete fetched one. A file that fails its check leaves ``root`` as it was.
    """
    manifest = parse_manifest(manifest_bytes, feature_version, where="(fetched)")
    folder = version_dir(root, feature_version)
    folder.mkdir(parents=True, exist_ok=True)
    for name, sha256 in ((manifest.index_file, manifest.index_sha256), (manifest.ids_file, manifest.ids_sha256)):
        with open_file(name) as source:
            _write_verified(source, folder / name, sha256, label=f"fetched snapshot file {name}", durable=True)
    if (folder / manifest.ids_file).stat().st_size != 8 * manifest.count:
        raise SnapshotCorruptError(f"fetched snapshot holds {(folder / manifest.ids_file).stat().st_size // 8} "
                                   f"ids, manifest says {manifest.count}")
    _fsync_dir(folder)
    atomic_write(folder / MANIFEST, manifest_bytes)
    _remove_stale(folder, manifest)
    return manifest
