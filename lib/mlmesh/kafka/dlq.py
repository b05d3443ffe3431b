"""Dead letters: a bad record goes to ``<topic>.dlq`` with the reason, never lost."""

from __future__ import annotations

import time

from confluent_kafka import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import dead_letter_pb2

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


def dead_letter(*, original: bytes | None, key: bytes | None, source_topic: str,
                error_class: str, reason: str, service: str, partition: int = -1,
                offset: int = -1, record_id: str = "") -> dead_letter_pb2.DeadLetter:
    ts = Timestamp()
    ts.FromNanoseconds(time.time_ns())
    return dead_letter_pb2.DeadLetter(
        original=original or b"", original_key=key or b"", source_topic=source_topic,
        source_partition=partition, source_offset=offset, error_class=error_class,
        reason=reason[:2000], service=service, failed_at=ts, record_id=record_id[:256],
    )


def coords(msg: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed message."""
    return msg.topic() or "", msg.partition() or 0, msg.offset() or 0


def headers_of(msg: Message) -> list[tuple[str, bytes]]:
    raw = msg.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in items]


def dead_letter_for(msg: Message, *, error_class: str, reason: str, service: str,
                    record_id: str = "") -> tuple[str, bytes]:
    """The DLQ topic and serialized DeadLetter for a consumed message."""
    topic, partition, offset = coords(msg)
    value = msg.value()
    key = msg.key()
    record = dead_letter(original=value if isinstance(value, bytes) else None,
                         key=key if isinstance(key, bytes) else None, source_topic=topic,
                         partition=partition, offset=offset, error_class=error_class,
                         reason=reason, service=service, record_id=record_id)
    return dlq_topic(topic), record.SerializeToString()
