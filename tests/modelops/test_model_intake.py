"""Intake: size limit, magic sniffing, decompression caps, safe file reading (no links, no traversal)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import pickle
import zlib

import pytest

from modelops.security.errors import HashMismatch, IntakeRefused, MagicInvalid, SizeExceeded
from modelops.security.intake import IntakeLimits, intake_bytes, read_model_file, sniff_compression
from modelops.security.pipeline import check_hash, check_model_bytes

from .malicious_samples import compress_bomb


def test_size_limit_is_checked_before_anything_else():
    with pytest.raises(SizeExceeded) as excinfo:
        intake_bytes(b"\x80\x04" + b"N" * 2000, limits=IntakeLimits(max_bytes=1024))
    assert excinfo.value.code == "size_exceeded" and excinfo.value.stage == "intake"
    assert excinfo.value.context["limit"] == 1024


@pytest.mark.parametrize("raw", [
    b"PK\x03\x04zipfile", b"\x80\x01N.", b"\x80\x06N.", b"(lp0\n.", b"\x93NUMPY\x01\x00", b"", b"\x80",
    b"ZF0x00000000000", b"\x5d\x00\x00\x80\x00", b"\x04\x22\x4d\x18", b"hello world",
])
def test_unknown_formats_are_refused_by_magic(raw):
    with pytest.raises(MagicInvalid) as excinfo:
        intake_bytes(raw, limits=IntakeLimits())
    assert excinfo.value.code == "magic_invalid"


@pytest.mark.parametrize("compress,name", [
    (zlib.compress, "zlib"), (gzip.compress, "gzip"), (bz2.compress, "bz2"),
    (lambda d: lzma.compress(d, format=lzma.FORMAT_XZ), "xz"),
])
def test_each_compression_is_sniffed_and_decompressed(compress, name):
    payload = pickle.dumps({"a": 1}, protocol=4)
    blob = intake_bytes(compress(payload), limits=IntakeLimits())
    assert blob.compression == name and blob.payload == payload
    assert sniff_compression(compress(payload)) == name


def test_decompression_bomb_absolute_cap():
    bomb = compress_bomb(3_000_000)
    with pytest.raises(SizeExceeded) as excinfo:
        intake_bytes(bomb, limits=IntakeLimits(max_decompressed_bytes=1_000_000, max_ratio=10**6))
    assert excinfo.value.context["limit"] == 1_000_000


def test_decompression_bomb_ratio_cap():
    bomb = compress_bomb(3_000_000)  # ~3 KB compressed, ratio ~1000
    with pytest.raises(SizeExceeded):
        intake_bytes(bomb, limits=IntakeLimits(max_ratio=100))
    assert intake_bytes(bomb, limits=IntakeLimits(max_ratio=10_000)).payload.startswith(b"\x80\x04")


@pytest.mark.parametrize("compress", [zlib.compress, gzip.compress, bz2.compress])
def test_truncated_or_extended_compressed_streams_are_refused(compress):
    data = compress(pickle.dumps(list(range(1000)), protocol=4))
    with pytest.raises(MagicInvalid):
        intake_bytes(data[:-6], limits=IntakeLimits())
    with pytest.raises(MagicInvalid):
        intake_bytes(data + data, limits=IntakeLimits())


def test_compressed_payload_must_itself_be_a_pickle():
    with pytest.raises(MagicInvalid):
        intake_bytes(zlib.compress(b"PK\x03\x04 not a pickle"), limits=IntakeLimits())


def test_hash_allowlist_and_expected_sha256_are_checked_before_parsing():
    garbage = b"\x80\x04 this is not even a valid pickle"
    sha = __import__("hashlib").sha256(garbage).hexdigest()
    with pytest.raises(HashMismatch) as excinfo:
        check_model_bytes(garbage, mode="blacklist", allowlist=None, intake_limits=IntakeLimits(),
                          hash_allowlist=frozenset({"0" * 64}))
    assert excinfo.value.stage == "hash" and excinfo.value.context["sha256"] == sha
    with pytest.raises(HashMismatch):
        check_hash(sha, expected_sha256="f" * 64, hash_allowlist=None)
    check_hash(sha, expected_sha256=sha.upper(), hash_allowlist=frozenset({sha}))


def test_read_model_file_reads_a_regular_file(tmp_path):
    (tmp_path / "m.pkl").write_bytes(b"\x80\x04N.")
    assert read_model_file(str(tmp_path), "m.pkl", max_bytes=100) == b"\x80\x04N."


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.pkl", "..", ".", "", "x\x00y", "/etc/passwd"])
def test_read_model_file_refuses_paths(tmp_path, name):
    with pytest.raises(IntakeRefused):
        read_model_file(str(tmp_path), name, max_bytes=100)


def test_read_model_file_refuses_symlinks_fifos_directories_and_hard_links(tmp_path):
    target = tmp_path / "real.pkl"
    target.write_bytes(b"\x80\x04N.")
    (tmp_path / "link.pkl").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.pkl")
    (tmp_path / "dir.pkl").mkdir()
    os.link(target, tmp_path / "hard.pkl")
    for name in ("link.pkl", "fifo.pkl", "dir.pkl", "hard.pkl", "missing.pkl"):
        with pytest.raises(IntakeRefused):
            read_model_file(str(tmp_path), name, max_bytes=100)


def test_read_model_file_checks_size_before_reading(tmp_path):
    (tmp_path / "big.pkl").write_bytes(b"\x80\x04" + b"N" * 500)
    with pytest.raises(SizeExceeded):
        read_model_file(str(tmp_path), "big.pkl", max_bytes=100)
