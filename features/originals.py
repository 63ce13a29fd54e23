"""Uploaded originals, kept content-addressed by sha256 in the ``cad_originals`` storage (``settings.STORAGES``).

The key of an original is ``ab/cd/abcd…`` (its sha256, fanned out over two folder levels), so the same content is
stored once whoever uploads it. The filesystem backend (the default, under ``CADML_ORIGINALS_DIR``) writes a
temporary file in the target folder, fsyncs it and hard-links it into place: a reader never sees a partial file and
two concurrent writers of the same content leave one file. With ``CADML_ORIGINALS_STORAGE=s3`` the bucket is
written through django-storages; a key that exists is not written again (two truly simultaneous first uploads of
the same content both PUT the same bytes to the same key, which leaves one object).

Only the services of the features app write here; readers open an original by the key its ``CadFile`` records.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages

ORIGINALS_ALIAS = "cad_originals"


def _storage_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, RuntimeError)
    try:  # the S3 backend's failures (only when django-storages' S3 dependencies are installed)
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is pinned in requirements.txt
        return errors
    return errors + (BotoCoreError, ClientError)


# What a failing storage raises (an unreachable bucket, a full or read-only disk...): callers answer 503 for these.
STORAGE_ERRORS = _storage_errors()


class ContentAddressedFileSystemStorage(FileSystemStorage):
    """Write-once storage whose names are content hashes: an existing name already holds the same bytes."""

    def get_available_name(self, name, max_length=None):
        return name  # never renamed: the name *is* the content

    def _save(self, name, content):
        temporary = self._write_temporary(name, content)
        try:
            self._link_into_place(temporary, name)
        finally:
            _unlink_quietly(temporary)
        return str(name).replace("\\", "/")

    def _write_temporary(self, name, content) -> str:
        """Write `content` to a temporary file in the folder of `name`, fsynced: the path of the durable copy."""
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, mode=self.directory_permissions_mode or 0o777, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
        except BaseException:
            _unlink_quietly(temporary)
            raise
        return temporary

    def _link_into_place(self, temporary: str, name) -> None:
        """Give the written temporary file its name: a hard link (an existing name already holds these bytes)."""
        full_path = self.path(name)
        try:
            os.link(temporary, full_path)
        except FileExistsError:
            pass  # written concurrently by another upload of the same content
        except OSError as exc:  # a filesystem without hard links: an atomic rename of identical bytes
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            os.replace(temporary, full_path)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def originals_storage() -> Storage:
    return storages[ORIGINALS_ALIAS]


def original_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def original_save(*, sha256: str, data: bytes) -> tuple[str, bool]:
    """Store ``data`` under its content key unless it is there already: ``(key, written)``.

    Raises ``ValueError`` when ``data`` does not hash to ``sha256`` and the storage's own error (``OSError``, a
    botocore error...) when the write fails; the caller decides what a failure means.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the data does not match its sha256")
    storage = originals_storage()
    key = original_key(sha256)
    if storage.exists(key):
        return key, False
    saved = storage.save(key, ContentFile(data))
    if saved != key:  # a backend configured to rename existing names would keep a second copy
        storage.delete(saved)
        raise RuntimeError(f"the originals storage renamed {key!r} to {saved!r}: it must not rename (file_overwrite)")
    return key, True


class StagedOriginal:
    """An original written while the upload's parse runs, put in place only when asked: `original_stage` prepares it,
    `write()` writes it (the parse runner calls it once its worker has the upload: `while_parsing`), `commit()` gives
    `(key, written)` like `original_save`, `discard()` leaves nothing behind.

    On the filesystem backend `write` writes and fsyncs the temporary file of `_save` in the caller's own thread while
    the worker parses, and `commit` hard-links it into place (writing it first if `write` was not called), so an upload
    whose parse fails stores nothing, as when the original was written after the parse. No thread is started: one per
    upload cost the request more (its start, and the GIL it took while the request still needed it) than the write it
    overlapped. Any other backend (S3) writes it all in `commit`, as `original_save` does. The storage's failure (and
    a `ValueError` for bytes that do not hash to `sha256`) is raised by `commit`, never by `write`."""

    def __init__(self, *, sha256: str, data: bytes):
        self.sha256, self.key = sha256, original_key(sha256)
        self._data: bytes | None = data
        self._temporary: str | None = None
        self._error: Exception | None = None
        self._staged = False  # a filesystem original not stored yet: written by `write`, linked by `commit`
        try:
            self._storage = originals_storage()
            self._staged = (isinstance(self._storage, ContentAddressedFileSystemStorage)
                            and not self._storage.exists(self.key))
        except STORAGE_ERRORS:
            pass  # commit() runs original_save, which meets (and raises) the storage's failure itself

    def write(self) -> None:
        """Write and fsync the temporary file, once (a staged filesystem original; otherwise nothing). Never raises:
        a failure is kept for `commit` to raise."""
        if not self._staged or self._data is None or self._temporary is not None or self._error is not None:
            return
        try:
            if hashlib.sha256(self._data).hexdigest() != self.sha256:
                raise ValueError("the data does not match its sha256")
            self._temporary = self._storage._write_temporary(self.key, ContentFile(self._data))
        except Exception as exc:  # raised by commit()
            self._error = exc

    def commit(self) -> tuple[str, bool]:
        if not self._staged:
            data, self._data = self._data, None
            return original_save(sha256=self.sha256, data=data)
        self.write()
        self._data = None
        if self._error is not None:
            raise self._error
        try:
            self._storage._link_into_place(self._temporary, self.key)
        finally:
            _unlink_quietly(self._temporary)
        return self.key, True

    def discard(self) -> None:
        self._data = None
        if self._temporary is not None:
            _unlink_quietly(self._temporary)
            self._temporary = None


def original_stage(*, sha256: str, data: bytes) -> StagedOriginal:
    """The original of `data`, to be written while it is parsed (see `StagedOriginal`); the caller commits or discards
    it."""
    return StagedOriginal(sha256=sha256, data=data)


def original_open(key: str) -> File:
    """The stored original opened for binary reading (the caller closes it)."""
    return originals_storage().open(key, "rb")


def original_read(key: str) -> bytes:
    with original_open(key) as handle:
        return handle.read()


def thumbnail_key(sha256: str) -> str:
    """The thumbnail's key: next to the original (`ab/cd/<sha256>.thumb.png`)."""
    return f"{original_key(sha256)}.thumb.png"


def thumbnail_save(*, sha256: str, png: bytes) -> str:
    """Store a rendered thumbnail next to its original (kept when one is there already); returns its key."""
    storage = originals_storage()
    key = thumbnail_key(sha256)
    if storage.exists(key):
        return key
    saved = storage.save(key, ContentFile(png))
    if saved != key:
        storage.delete(saved)
        raise RuntimeError(f"the originals storage renamed {key!r} to {saved!r}: it must not rename (file_overwrite)")
    return key
