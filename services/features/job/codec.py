"""Payload handling of the features job, free of PyFlink (unit-testable in .venv).

``decode_event`` / ``decode_document`` turn Kafka bytes into flat tuples or raise
:class:`~mlmesh.kafka.serde.SerdeError`; ``dead_letter_bytes`` and
``feature_update_bytes`` build the protobufs the job writes.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import document_pb2, feature_update_pb2, user_event_pb2
from mlmesh.ids import USER_ID_RULE, is_user_id
from mlmesh.kafka.dlq import dead_letter
from mlmesh.kafka.serde import SerdeError, decode

SERVICE = "features-job"
SLICE_MS = 60_000  # the finest window slide: lateness is judged per 1-minute slice


class EventRow(NamedTuple):
    event_id: str
    user_id: str
    ts: int  # event time, epoch ms
    slice_last: int  # last ms of the event's 1-minute slice
    action: int
    amount: float


class DocRow(NamedTuple):
    doc_id: str
    user_id: str
    ts: int
    slice_last: int


def slice_last(ts_ms: int) -> int:
    """Last millisecond of the 1-minute slice holding ``ts_ms``: once the
    watermark reaches it, that slice (and every window holding it) has fired."""
    return (ts_ms // SLICE_MS + 1) * SLICE_MS - 1


def _ts_ms(ts: Timestamp) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def _check_user(user_id: str) -> None:
    if not is_user_id(user_id):
        raise SerdeError("validation", f"user_id: {USER_ID_RULE}")


def decode_event(data: bytes | None) -> EventRow:
    msg = decode(user_event_pb2.UserEvent, data)
    if not msg.event_id:
        raise SerdeError("validation", "event_id: required")
    _check_user(msg.user_id)
    if not msg.HasField("event_time") or _ts_ms(msg.event_time) <= 0:
        raise SerdeError("validation", "event_time: required")
    if msg.amount != msg.amount or abs(msg.amount) == float("inf"):
        raise SerdeError("validation", "amount: must be finite")
    ts = _ts_ms(msg.event_time)
    return EventRow(msg.event_id, msg.user_id, ts, slice_last(ts), int(msg.action),
                    float(msg.amount))


def decode_document(data: bytes | None) -> DocRow:
    msg = decode(document_pb2.Document, data)
    if not msg.doc_id:
        raise SerdeError("validation", "doc_id: required")
    _check_user(msg.user_id)
    if not msg.HasField("created_at") or _ts_ms(msg.created_at) <= 0:
        raise SerdeError("validation", "created_at: required")
    ts = _ts_ms(msg.created_at)
    return DocRow(msg.doc_id, msg.user_id, ts, slice_last(ts))


def dead_letter_bytes(*, original: bytes | None, key: bytes | None, topic: str,
                      partition: int, offset: int, error_class: str, reason: str,
                      record_id: str = "") -> bytes:
    return dead_letter(original=original, key=key, source_topic=topic, partition=partition,
                       offset=offset, error_class=error_class, reason=reason,
                       service=SERVICE, record_id=record_id).SerializeToString()


def late_reason(ts_ms: int, watermark_ms: int) -> str:
    return (f"late_event: event time {ts_ms} is behind the watermark {watermark_ms} "
            f"by {watermark_ms - ts_ms} ms; its 1-minute window slice had already fired")


def _ts(ms: int) -> Timestamp:
    out = Timestamp()
    out.FromMilliseconds(ms)
    return out


def feature_update_bytes(*, user_id: str, view: str, window_start_ms: int, window_end_ms: int,
                         values: dict[str, float], max_event_ms: int | None,
                         emitted_ms: int | None = None) -> bytes:
    msg = feature_update_pb2.FeatureUpdate(
        user_id=user_id, feature_view=view, window_start=_ts(window_start_ms),
        window_end=_ts(window_end_ms), values=values,
        emitted_at=_ts(emitted_ms if emitted_ms is not None else int(time.time() * 1000)),
    )
    if max_event_ms is not None:
        msg.max_event_time.CopyFrom(_ts(max_event_ms))
    return msg.SerializeToString()
