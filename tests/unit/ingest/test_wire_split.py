"""Splitting a batch at the wire level keeps good items apart from bad ones."""

from __future__ import annotations

import pytest

from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event
from mlmesh.wire import WireError, repeated_field


def test_split_returns_each_item_bytes():
    events = [event(f"u{i}", i) for i in range(5)]
    raw = pb.PublishRequest(events=events).SerializeToString()
    assert list(repeated_field(raw, 1)) == [e.SerializeToString() for e in events]


def test_unknown_fields_are_skipped():
    raw = b"\x10\x07" + pb.PublishRequest(events=[event("u")]).SerializeToString() + b"\x1d\0\0\0\0"
    assert len(list(repeated_field(raw, 1))) == 1


@pytest.mark.parametrize("raw", [b"\x0a\x05ab", b"\x0a", b"\x0f\x01", b"\x00\x01",
                                 b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"])
def test_broken_framing_raises(raw):
    with pytest.raises(WireError):
        list(repeated_field(raw, 1))
