"""Collection names that milvus-lite 2.4.12 cannot give an index.

milvus-lite keeps its metadata in SQLite. Its ``CollectionMeta::CreateIndex``
(2.4.x) formats the serialized index protobuf straight into the text of an
``INSERT`` statement instead of binding it (later versions bind it). The
protobuf carries the collection id, which milvus-lite derives from the name with
libstdc++'s ``std::hash<std::string>``; when the last byte of that id's varint
is ``0x27`` (a single quote) the statement does not parse, ``create_index``
fails with "internal error" (the server logs ``Add index failed, err:
unrecognized token``) and the collection is left without a stored index.

The id depends on the name alone, so about one name in 256 fails every time and
every other name never does. Measured on 2026-12-03: names whose id ends in
0x27 failed 6 of 6, names whose id holds a double quote or neither byte passed
18 of 18. A Milvus server (standalone or cluster) is not affected.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_MUL = 0xC6A4A7935BD1E995
_SEED = 0xC70F6907  # libstdc++'s seed for std::hash<std::string>
_QUOTE = 0x27


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _load(data: bytes) -> int:
    return int.from_bytes(data, "little")


def std_hash(data: bytes) -> int:
    """libstdc++'s ``std::_Hash_bytes`` for a 64-bit ``size_t`` (the value of
    ``std::hash<std::string>``)."""
    n = len(data)
    aligned = n & ~7
    h = (_SEED ^ (n * _MUL)) & _MASK
    for i in range(0, aligned, 8):
        d = (_shift_mix((_load(data[i:i + 8]) * _MUL) & _MASK) * _MUL) & _MASK
        h = ((h ^ d) * _MUL) & _MASK
    if n & 7:
        h = ((h ^ _load(data[aligned:])) * _MUL) & _MASK
    h = (_shift_mix(h) * _MUL) & _MASK
    return _shift_mix(h)


def collection_id(name: str) -> int:
    """The int64 collection id milvus-lite gives ``name``."""
    h = std_hash(name.encode())
    return h - (1 << 64) if h >> 63 else h


def _varint(value: int) -> bytes:
    value &= _MASK  # a negative int64 is encoded as its 64-bit two's complement
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def index_unsafe(name: str) -> bool:
    """True when milvus-lite 2.4.12 cannot store a vector index for a collection
    called ``name`` (see the module docstring)."""
    return _QUOTE in _varint(collection_id(name))


def unsafe_message(name: str) -> str:
    return (f"Milvus collection name {name!r} cannot hold an index on milvus-lite 2.4: "
            "its internal collection id contains a quote byte that milvus-lite writes "
            "unescaped into its SQLite metadata, so create_index always fails there. "
            "Choose another collection name, or use a Milvus server")
