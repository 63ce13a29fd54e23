"""Our own pickle opcode table (we do not rely on ``pickletools.genops``, which ignores frames).

Each entry: opcode byte -> (name, argument kind, protocol that introduced it). Argument kinds:
``none``, ``u1``/``u2``/``u4``/``u8`` (unsigned little-endian), ``i4`` (signed), ``f8`` (big-endian
double), ``len1``/``len4``/``len8`` (length-prefixed bytes), ``slen4`` (signed length, BINSTRING/LONG4),
``line`` (newline-terminated), ``line2`` (two lines, GLOBAL/INST).
"""

from __future__ import annotations

OPCODES: dict[int, tuple[str, str, int]] = {
    0x28: ("MARK", "none", 0),
    0x2E: ("STOP", "none", 0),
    0x30: ("POP", "none", 0),
    0x31: ("POP_MARK", "none", 1),
    0x32: ("DUP", "none", 0),
    0x46: ("FLOAT", "line", 0),
    0x49: ("INT", "line", 0),
    0x4A: ("BININT", "i4", 1),
    0x4B: ("BININT1", "u1", 1),
    0x4C: ("LONG", "line", 0),
    0x4D: ("BININT2", "u2", 1),
    0x4E: ("NONE", "none", 0),
    0x50: ("PERSID", "line", 0),
    0x51: ("BINPERSID", "none", 1),
    0x52: ("REDUCE", "none", 0),
    0x53: ("STRING", "line", 0),
    0x54: ("BINSTRING", "slen4", 1),
    0x55: ("SHORT_BINSTRING", "len1", 1),
    0x56: ("UNICODE", "line", 0),
    0x58: ("BINUNICODE", "len4", 1),
    0x61: ("APPEND", "none", 0),
    0x62: ("BUILD", "none", 0),
    0x63: ("GLOBAL", "line2", 0),
    0x64: ("DICT", "none", 0),
    0x7D: ("EMPTY_DICT", "none", 1),
    0x65: ("APPENDS", "none", 1),
    0x67: ("GET", "line", 0),
    0x68: ("BINGET", "u1", 1),
    0x69: ("INST", "line2", 0),
    0x6A: ("LONG_BINGET", "u4", 1),
    0x6C: ("LIST", "none", 0),
    0x5D: ("EMPTY_LIST", "none", 1),
    0x6F: ("OBJ", "none", 1),
    0x70: ("PUT", "line", 0),
    0x71: ("BINPUT", "u1", 1),
    0x72: ("LONG_BINPUT", "u4", 1),
    0x73: ("SETITEM", "none", 0),
    0x74: ("TUPLE", "none", 0),
    0x29: ("EMPTY_TUPLE", "none", 1),
    0x75: ("SETITEMS", "none", 1),
    0x47: ("BINFLOAT", "f8", 1),
    0x80: ("PROTO", "u1", 2),
    0x81: ("NEWOBJ", "none", 2),
    0x82: ("EXT1", "u1", 2),
    0x83: ("EXT2", "u2", 2),
    0x84: ("EXT4", "i4", 2),
    0x85: ("TUPLE1", "none", 2),
    0x86: ("TUPLE2", "none", 2),
    0x87: ("TUPLE3", "none", 2),
    0x88: ("NEWTRUE", "none", 2),
    0x89: ("NEWFALSE", "none", 2),
    0x8A: ("LONG1", "len1", 2),
    0x8B: ("LONG4", "slen4", 2),
    0x42: ("BINBYTES", "len4", 3),
    0x43: ("SHORT_BINBYTES", "len1", 3),
    0x8C: ("SHORT_BINUNICODE", "len1", 4),
    0x8D: ("BINUNICODE8", "len8", 4),
    0x8E: ("BINBYTES8", "len8", 4),
    0x8F: ("EMPTY_SET", "none", 4),
    0x90: ("ADDITEMS", "none", 4),
    0x91: ("FROZENSET", "none", 4),
    0x92: ("NEWOBJ_EX", "none", 4),
    0x93: ("STACK_GLOBAL", "none", 4),
    0x94: ("MEMOIZE", "none", 4),
    0x95: ("FRAME", "u8", 4),
    0x96: ("BYTEARRAY8", "len8", 5),
    0x97: ("NEXT_BUFFER", "none", 5),
    0x98: ("READONLY_BUFFER", "none", 5),
}

CODE_BY_NAME: dict[str, int] = {name: code for code, (name, _kind, _proto) in OPCODES.items()}
NAMES: list[str] = ["?"] * 256
PROTO_OF: list[int] = [99] * 256
for _code, (_name, _kind, _proto) in OPCODES.items():
    NAMES[_code] = _name
    PROTO_OF[_code] = _proto

# Opcodes every blocking mode refuses whatever the allow-list says: object construction by protocol-0
# class call (INST/OBJ), persistent ids, the extension registry and out-of-band buffers.
STRUCTURALLY_BLOCKED: frozenset[str] = frozenset({
    "INST", "OBJ", "PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER", "READONLY_BUFFER",
})


def opcode_mask(names) -> bytearray:
    """A 256-entry lookup table (1 = member) for a set of opcode names."""
    mask = bytearray(256)
    for name in names:
        mask[CODE_BY_NAME[name]] = 1
    return mask
