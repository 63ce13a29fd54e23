"""Exceptions of the Django-free index core; the service layer maps them to DomainErrors."""


class IndexCoreError(Exception):
    """Base class of every error raised by ``vectors.index``."""


class InvalidVectorError(IndexCoreError, ValueError):
    """A vector has the wrong shape or holds NaN/inf values."""

    def __init__(self, message: str, *, expected: int | None = None, found: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.found = found


class FaissUnavailableError(IndexCoreError):
    """The faiss module cannot be imported in this process."""


class SnapshotError(IndexCoreError):
    """A snapshot could not be written, or is missing or fails verification on load."""


class SnapshotMissingError(SnapshotError):
    """The manifest or a file it names does not exist."""


class SnapshotCorruptError(SnapshotError):
    """The manifest is malformed or a checksum, count, dimension or version does not match."""
