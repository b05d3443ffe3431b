"""Split a batch request into its items at the protobuf wire level, so one
malformed item (bad UTF-8, truncated, wrong types) is rejected on its own with
its original bytes kept for the dead letter, instead of failing the batch."""

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


def repeated_field(buf: bytes, field_number: int) -> Iterator[bytes]:
    """Yield the raw bytes of each occurrence of a length-delimited field."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == 0:
            _, pos = _varint(buf, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _varint(buf, pos)
            end = pos + length
            if end > n:
                raise WireError(f"field {number}: length {length} past end of message")
            if number == field_number:
                yield buf[pos:end]
            pos = end
        else:
            raise WireError(f"unsupported wire type {wire_type}")
        if pos > n:
            raise WireError("truncated message")
