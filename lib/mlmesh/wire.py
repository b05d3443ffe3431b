"""Reading protobuf wire format directly, for what the generated parsers cannot
say: which item of a batch is malformed (so one bad item never fails its
batch), or which string field holds invalid UTF-8 (a clear dead-letter reason)."""

from __future__ import annotations

from collections.abc import Iterator


class WireError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(buf: bytes, strict: bool = True) -> Iterator[tuple[int, int, bytes | int]]:
    """Yield ``(field number, wire type, value)`` of each top-level field: the
    integer of a varint, the raw bytes of fixed and length-delimited fields.
    ``strict=False``: a length-delimited field running past the end yields what
    is there as the last field (for diagnosing a payload that fails to parse)."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: bytes | int
        if wire_type == 0:
            value, pos = _varint(buf, pos)
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, pos = buf[pos:pos + size], pos + size
        elif wire_type == 2:
            length, pos = _varint(buf, pos)
            if pos + length > n:
                if strict:
                    raise WireError(f"field {number}: length {length} past end of message")
                yield number, wire_type, buf[pos:]
                return
            value, pos = buf[pos:pos + length], pos + length
        else:
            raise WireError(f"unsupported wire type {wire_type}")
        if pos > n:
            raise WireError("truncated message")
        yield number, wire_type, value


def repeated_field(buf: bytes, field_number: int) -> Iterator[bytes]:
    """The raw bytes of each occurrence of a length-delimited field."""
    for number, wire_type, value in fields(buf):
        if number == field_number and wire_type == 2 and isinstance(value, bytes):
            yield value


class LazySplit:
    """The exact bytes of each occurrence of a repeated field, split on first use.
    A batch decoded in one call keeps one of these so that the rare item needing
    its original bytes (a dead letter) gets exactly what was sent: re-encoding a
    decoded message need not reproduce them (map order, unknown fields)."""

    __slots__ = ("_buf", "_field", "_items")

    def __init__(self, buf: bytes, field_number: int) -> None:
        self._buf = buf
        self._field = field_number
        self._items: list[bytes] | None = None

    def __getitem__(self, index: int) -> bytes:
        if self._items is None:
            self._items = list(repeated_field(self._buf, self._field))
        return self._items[index]


def encode_varint(n: int) -> bytes:
    if n < 0:
        n &= (1 << 64) - 1  # protobuf encodes a negative int64 in ten bytes
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def timestamp_field(number: int, epoch_ns: int) -> bytes:
    """Field ``number`` holding a ``google.protobuf.Timestamp``, with both its
    fields written even when zero. Appended to a serialized message it sets that
    field to exactly this time, whatever the message held: a parser merges a
    repeated embedded message field and the last scalar wins. Cheaper than
    setting the field and serializing again, for a stamp shared by a batch."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    body = b"\x08" + encode_varint(seconds) + b"\x10" + encode_varint(nanos)
    return encode_varint(number << 3 | 2) + encode_varint(len(body)) + body
