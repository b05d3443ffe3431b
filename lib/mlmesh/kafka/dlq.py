"""Dead letters: a bad record goes to ``<topic>.dlq`` with the reason, never lost."""

from __future__ import annotations

import time

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
