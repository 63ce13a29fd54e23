"""A tiny pickle assembler for hand-built hostile streams (tests only)."""

from __future__ import annotations

import struct


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def frame(body: bytes, declared: int | None = None) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body) if declared is None else declared) + body


def u(s: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE."""
    raw = s.encode("utf-8", "surrogatepass")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def binunicode(s: str) -> bytes:
    raw = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def stack_global(module: str, name: str) -> bytes:
    return u(module) + u(name) + b"\x93"


def call1(arg_ops: bytes) -> bytes:
    """(callable already on the stack) + one argument -> REDUCE."""
    return arg_ops + b"\x85R"


MARK, STOP, TUPLE, TUPLE1, TUPLE2, REDUCE, BUILD, NEWOBJ = b"(", b".", b"t", b"\x85", b"\x86", b"R", b"b", b"\x81"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, SETITEMS, APPENDS, APPEND = b"}", b"]", b")", b"u", b"e", b"a"
MEMOIZE, POP, POP_MARK, DUP, NONE = b"\x94", b"0", b"1", b"2", b"N"


def binput(i: int) -> bytes:
    return b"q" + bytes([i])


def binget(i: int) -> bytes:
    return b"h" + bytes([i])


def bininti(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)
