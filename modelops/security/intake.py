"""Intake: read a model file once, safely, sniff its container by magic bytes and decompress with caps.

Everything downstream (hash check, scan, load) works on the ``ModelBlob`` produced here: the exact bytes
that were hashed are the bytes that are scanned and loaded.
"""

from __future__ import annotations

import bz2
import errno
import hashlib
import lzma
import os
import stat
import zlib
from dataclasses import dataclass

from .errors import IntakeRefused, MagicInvalid, ModelFileMissing, SizeExceeded

PICKLE_PROTOCOLS = (2, 3, 4, 5)
COMPRESSIONS = ("zlib", "gzip", "bz2", "xz")
_CHUNK = 1 << 20  # read size


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_decompressed_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200

    def __post_init__(self):
        if self.max_bytes <= 0 or self.max_decompressed_bytes <= 0 or self.max_ratio <= 0:
            raise ValueError("intake limits must be positive")


@dataclass(frozen=True)
class ModelBlob:
    raw: bytes                 # the exact bytes received / read
    sha256: str                # sha256 of ``raw``
    compression: str | None    # None, or one of COMPRESSIONS
    payload: bytes             # the pickle stream (``raw`` itself, or its decompression)

    @property
    def size(self) -> int:
        return len(self.raw)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_model_file(directory: str, name: str, *, max_bytes: int) -> bytes:
    """Read ``name`` inside ``directory`` without following links; refuse anything but a regular file.

    ``name`` must be a plain file name (no separators, no ``..``); the file is opened with ``O_NOFOLLOW``
    relative to a directory descriptor, its size checked with ``fstat`` before reading, and read once.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise IntakeRefused("model file name must be a plain file name inside the model directory",
                            context={"name": name[:200]})
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise IntakeRefused("model directory is not accessible", context={"error": exc.strerror}) from None
    try:
        try:
            fd = os.open(name, flags | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
        except OSError as exc:
            # ELOOP is what O_NOFOLLOW answers for a symbolic link.
            if exc.errno == errno.ENOENT:
                raise ModelFileMissing("no such model file in the model directory", context={"name": name}) from None
            reason = "symbolic links are refused" if exc.errno == errno.ELOOP else exc.strerror
            raise IntakeRefused(f"cannot open model file: {reason}", context={"name": name}) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise IntakeRefused("model file is not a regular file", context={"name": name})
            if st.st_nlink > 1:
                raise IntakeRefused("hard-linked model files are refused", context={"name": name})
            if st.st_size > max_bytes:
                raise SizeExceeded("model file exceeds the size limit",
                                   context={"size": st.st_size, "limit": max_bytes, "name": name})
            chunks, total = [], 0
            while True:
                chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:  # the file grew after fstat
                    raise SizeExceeded("model file exceeds the size limit",
                                       context={"size": total, "limit": max_bytes, "name": name})
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)


def sniff_compression(raw: bytes) -> str | None:
    """Return None for a raw pickle, the compression name for a compressed joblib file; else refuse."""
    if len(raw) >= 2 and raw[0] == 0x80:
        if raw[1] in PICKLE_PROTOCOLS:
            return None
        raise MagicInvalid("pickle protocol must be 2 to 5", context={"protocol": raw[1]})
    if raw[:2] == b"\x1f\x8b":
        return "gzip"
    if raw[:3] == b"BZh":
        return "bz2"
    if raw[:6] == b"\xfd7zXZ\x00":
        return "xz"
    # zlib header: CMF 0x78 (deflate, 32K window) and a valid FCHECK, no preset dictionary.
    if len(raw) >= 2 and raw[0] == 0x78 and (raw[0] * 256 + raw[1]) % 31 == 0 and not raw[1] & 0x20:
        return "zlib"
    raise MagicInvalid("unsupported model format: expected a pickle (protocol 2-5) or a joblib file "
                       "(plain, zlib, gzip, bz2 or xz)", context={"magic": raw[:8].hex()})


def _decompressor(compression: str):
    if compression == "zlib":
        return zlib.decompressobj()
    if compression == "gzip":
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if compression == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


def decompress(raw: bytes, compression: str, *, limits: IntakeLimits) -> bytes:
    """Decompress one complete stream; never produce more than the absolute or the ratio cap."""
    cap = min(limits.max_decompressed_bytes, max(len(raw), 1) * limits.max_ratio)
    dec = _decompressor(compression)
    streaming_zlib = compression in ("zlib", "gzip")
    out: list[bytes] = []
    produced = 0
    pending: bytes = raw
    try:
        while True:
            # Ask for one byte more than allowed: getting it proves the stream is over the cap.
            piece = dec.decompress(pending, cap - produced + 1)
            produced += len(piece)
            if produced > cap:
                raise SizeExceeded("decompressed model exceeds the cap",
                                   context={"compression": compression, "limit": cap,
                                            "compressed_size": len(raw)})
            out.append(piece)
            if dec.eof:
                break
            if streaming_zlib:
                pending = dec.unconsumed_tail
                stalled = not pending and not piece
            else:
                pending = b""
                stalled = dec.needs_input
            if stalled:
                raise MagicInvalid("compressed stream is truncated", context={"compression": compression})
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
        raise MagicInvalid(f"corrupt {compression} stream: {exc}", context={"compression": compression}) from None
    if dec.unused_data or (streaming_zlib and dec.unconsumed_tail):
        raise MagicInvalid("data after the end of the compressed stream", context={"compression": compression})
    payload = b"".join(out)
    if len(payload) < 2 or payload[0] != 0x80 or payload[1] not in PICKLE_PROTOCOLS:
        raise MagicInvalid("compressed payload is not a pickle (protocol 2-5)",
                           context={"compression": compression, "magic": payload[:8].hex()})
    return payload


def check_size(raw: bytes, *, limits: IntakeLimits) -> None:
    if len(raw) > limits.max_bytes:
        raise SizeExceeded("model file exceeds the size limit", context={"size": len(raw), "limit": limits.max_bytes})


def intake_bytes(raw: bytes, *, limits: IntakeLimits, sha256: str | None = None) -> ModelBlob:
    """Size check, hashing of the exact bytes, magic sniffing, capped decompression."""
    check_size(raw, limits=limits)
    digest = sha256 or sha256_hex(raw)
    try:
        compression = sniff_compression(raw)
    except MagicInvalid as exc:
        exc.context.setdefault("sha256", digest)
        raise
    try:
        payload = raw if compression is None else decompress(raw, compression, limits=limits)
    except (SizeExceeded, MagicInvalid) as exc:
        exc.context.setdefault("sha256", digest)
        raise
    return ModelBlob(raw=raw, sha256=digest, compression=compression, payload=payload)
