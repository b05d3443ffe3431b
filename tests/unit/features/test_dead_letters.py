"""The dead letters the features job builds (no Flink)."""

from __future__ import annotations

from features.job import codec
from mlmesh.events.v1 import dead_letter_pb2


def test_dead_letter_carries_reason_and_origin() -> None:
    raw = codec.dead_letter_bytes(original=b"x", key=b"k", topic="user_events", partition=2,
                                  offset=9, error_class="late_event",
                                  reason=codec.late_reason(1000, 61_000), record_id="e1")
    dl = dead_letter_pb2.DeadLetter.FromString(raw)
    assert (dl.source_topic, dl.source_partition, dl.source_offset) == ("user_events", 2, 9)
    assert dl.error_class == "late_event" and "60000 ms" in dl.reason
    assert dl.service == "features-job" and dl.record_id == "e1" and dl.original == b"x"


def test_rejected_record_keeps_the_decoders_class_and_reason() -> None:
    raw = codec.dead_letter_bytes(original=b"\xff", key=None, topic="documents", partition=0,
                                  offset=3, error_class="validation",
                                  reason="doc_id: required")
    dl = dead_letter_pb2.DeadLetter.FromString(raw)
    assert (dl.error_class, dl.reason, dl.original_key) == ("validation", "doc_id: required", b"")
