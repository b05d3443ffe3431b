"""The wire reader: fields in order; a field running past the end is an error,
or, when diagnosing (strict=False), the last field with what is there."""

from __future__ import annotations

import pytest

from mlmesh.wire import WireError, fields


def test_fields_in_order_with_their_values():
    raw = b"\x08\x96\x01" + b"\x12\x02hi" + b"\x1d\x01\x02\x03\x04"
    assert list(fields(raw)) == [(1, 0, 150), (2, 2, b"hi"), (3, 5, b"\x01\x02\x03\x04")]


def test_overlong_field_strict_and_lenient():
    raw = b"\x0a\x01a\x12\x08caf\xe9"
    with pytest.raises(WireError, match="past end"):
        list(fields(raw))
    assert list(fields(raw, strict=False)) == [(1, 2, b"a"), (2, 2, b"caf\xe9")]
