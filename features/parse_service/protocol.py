"""The parse service's wire format: length-prefixed frames on a Unix stream socket.

A frame is a 4-byte big-endian length followed by that many bytes. A request is a JSON header frame
``{"op": "parse" | "thumbnail" | "status", "fmt": ..., "timeout_seconds": ...}`` followed, for ``parse`` and
``thumbnail``, by one raw frame holding the file's bytes (never re-encoded). A reply is a JSON header frame:
``{"ok": true, "document": {...}}`` (parse), ``{"ok": true}`` followed by one raw frame holding the PNG (thumbnail),
``{"ok": true, "status": {...}}`` (status), ``{"ok": false, "error": <CadParseError.to_payload()>}`` (the file's
fault: the same payload a parse worker sends its pool) or ``{"ok": false, "unavailable": "<why>"}`` (no worker
could take the task: `ParsePoolUnavailable` on the client's side).
"""

from __future__ import annotations

import json
import socket
import struct

HEADER = struct.Struct(">I")
MAX_HEADER_BYTES = 16 * 1024 * 1024  # JSON headers and document summaries
DEFAULT_MAX_DATA_BYTES = 512 * 1024 * 1024  # the service refuses a larger upload frame before reading it


class ProtocolError(Exception):
    """The peer closed the connection or sent a malformed frame."""


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(HEADER.pack(len(payload)))
    sock.sendall(payload)


def send_json(sock: socket.socket, message: dict) -> None:
    send_frame(sock, json.dumps(message, separators=(",", ":")).encode("utf-8"))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = sock.recv_into(view[received:], size - received)
        if count == 0:
            raise ProtocolError("the peer closed the connection")
        received += count
    return bytes(buffer)


def recv_frame(sock: socket.socket, *, max_bytes: int) -> bytes:
    (size,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
    if size > max_bytes:
        raise ProtocolError(f"a frame of {size} bytes is over the limit of {max_bytes}")
    return _recv_exactly(sock, size)


def recv_json(sock: socket.socket) -> dict:
    raw = recv_frame(sock, max_bytes=MAX_HEADER_BYTES)
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"a header frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a header frame is not a JSON object")
    return message
