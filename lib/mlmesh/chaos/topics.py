"""Read a whole topic (read_committed) with partition, offset and timestamp."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from mlmesh.events.v1 import dead_letter_pb2


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int


def read_topic(bootstrap: str, topic: str, timeout: float = 120.0,
               isolation: str = "read_committed") -> list[Rec]:
    """Every record from the beginning to the current end of each partition."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"chaos-audit-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "isolation.level": isolation,
        "enable.partition.eof": True, "auto.offset.reset": "earliest",
        "fetch.max.bytes": 52428800, "log_level": 3,
    })
    try:
        meta = consumer.list_topics(topic, timeout=15).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        parts = sorted(meta.partitions)
        ends: dict[int, int] = {}
        for p in parts:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
            ends[p] = int(high)
        todo = {p for p in parts if ends[p] > 0}
        if not todo:
            return []
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        out: list[Rec] = []
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to the end")
            for msg in consumer.consume(5000, 0.5):
                err = msg.error()
                part = int(msg.partition() or 0)
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        todo.discard(part)
                        continue
                    raise RuntimeError(f"read {topic}: {err}")
                off = int(msg.offset() or 0)
                out.append(Rec(part, off, msg.key(), msg.value(), int(msg.timestamp()[1])))
                if off + 1 >= ends[part]:
                    todo.discard(part)
        return out
    finally:
        consumer.close()


def ts_ms(ts: Any) -> int:
    """A protobuf Timestamp in epoch milliseconds."""
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def dead_letters(recs: Iterable[Rec]) -> list[dead_letter_pb2.DeadLetter]:
    out = []
    for r in recs:
        try:
            out.append(dead_letter_pb2.DeadLetter.FromString(r.value or b""))
        except Exception:  # a DLQ must hold DeadLetters; count the stranger
            out.append(dead_letter_pb2.DeadLetter(error_class="<not a DeadLetter>"))
    return out
