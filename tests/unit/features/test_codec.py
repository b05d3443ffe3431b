"""Decoding, validation and encoding of the features job (no Flink)."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from features.job import codec
from mlmesh.events.v1 import dead_letter_pb2, document_pb2, feature_update_pb2, user_event_pb2
from mlmesh.kafka.serde import SerdeError


def _ev(**kw: object) -> bytes:
    t = Timestamp()
    t.FromMilliseconds(int(kw.pop("ms", 1_700_000_123_456)))  # type: ignore[call-overload]
    fields = {"event_id": "e1", "user_id": "u-1", "event_time": t, "action": 4,
              "amount": 12.5, **kw}
    return user_event_pb2.UserEvent(**fields).SerializeToString()  # type: ignore[arg-type]


def test_decode_event_flattens_fields() -> None:
    row = codec.decode_event(_ev())
    assert row == codec.EventRow("e1", "u-1", 1_700_000_123_456, 1_700_000_159_999, 4, 12.5)


@pytest.mark.parametrize("payload,error_class,needle", [
    (b"", "decode", "empty"),
    (b"\xff\x01junk", "decode", "UserEvent"),
    (_ev(user_id=""), "validation", "user_id"),
    (_ev(user_id="bad user!"), "validation", "user_id"),
    (_ev(event_id=""), "validation", "event_id"),
    (_ev(amount=float("nan")), "validation", "amount"),
])
def test_bad_events_raise_with_class(payload: bytes, error_class: str, needle: str) -> None:
    with pytest.raises(SerdeError) as info:
        codec.decode_event(payload)
    assert info.value.error_class == error_class
    assert needle in info.value.reason


def test_event_without_time_is_rejected() -> None:
    raw = user_event_pb2.UserEvent(event_id="e", user_id="u").SerializeToString()
    with pytest.raises(SerdeError, match="event_time"):
        codec.decode_event(raw)


def test_decode_document() -> None:
    t = Timestamp()
    t.FromMilliseconds(120_001)
    raw = document_pb2.Document(doc_id="d", user_id="u", created_at=t).SerializeToString()
    assert codec.decode_document(raw) == codec.DocRow("d", "u", 120_001, 179_999)


def test_slice_last_is_the_last_ms_of_the_minute() -> None:
    assert codec.slice_last(0) == 59_999
    assert codec.slice_last(59_999) == 59_999
    assert codec.slice_last(60_000) == 119_999


def test_feature_update_round_trip() -> None:
    raw = codec.feature_update_bytes(user_id="u", view="user_activity_5m", window_start_ms=0,
                                     window_end_ms=300_000, values={"event_count_5m": 3.0},
                                     max_event_ms=299_000, emitted_ms=301_000)
    msg = feature_update_pb2.FeatureUpdate.FromString(raw)
    assert (msg.user_id, msg.feature_view) == ("u", "user_activity_5m")
    assert msg.window_end.ToMilliseconds() == 300_000
    assert dict(msg.values) == {"event_count_5m": 3.0}
    assert msg.max_event_time.ToMilliseconds() == 299_000
    assert msg.emitted_at.ToMilliseconds() == 301_000


def test_zero_row_has_no_max_event_time() -> None:
    raw = codec.feature_update_bytes(user_id="u", view="v", window_start_ms=0,
                                     window_end_ms=1, values={}, max_event_ms=None)
    assert not feature_update_pb2.FeatureUpdate.FromString(raw).HasField("max_event_time")


def test_dead_letter_carries_reason_and_origin() -> None:
    raw = codec.dead_letter_bytes(original=b"x", key=b"k", topic="user_events", partition=2,
                                  offset=9, error_class="late_event",
                                  reason=codec.late_reason(1000, 61_000), record_id="e1")
    dl = dead_letter_pb2.DeadLetter.FromString(raw)
    assert (dl.source_topic, dl.source_partition, dl.source_offset) == ("user_events", 2, 9)
    assert dl.error_class == "late_event" and "60000 ms" in dl.reason
    assert dl.service == "features-job" and dl.record_id == "e1" and dl.original == b"x"
