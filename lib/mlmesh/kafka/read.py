"""Read a whole topic, from the beginning to the end of every partition.

One consumer, assigned (no group membership, nothing committed) to every
partition of the topic from its beginning; a partition is at its end when the
consumer reports ``_PARTITION_EOF`` for it (the high watermark, or the last
stable offset under ``read_committed``) and has had no record since.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition


def read_to_end(bootstrap: str, topic: str, *, isolation: str = "read_committed",
                timeout: float = 30.0, strict: bool = True, group_prefix: str = "read-to-end-",
                metadata_timeout: float = 10.0, batch: int = 5000,
                extra_config: Mapping[str, Any] | None = None) -> Iterator[Message]:
    """Every record of ``topic`` (an error-free :class:`~confluent_kafka.Message`),
    in offset order within a partition; nothing for a topic that does not exist.

    ``strict``: a consumer error raises :class:`RuntimeError` and not reaching
    the end within ``timeout`` seconds raises :class:`TimeoutError`; otherwise
    errors are skipped and the read stops at ``timeout`` with what it got."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"{group_prefix}{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "isolation.level": isolation, "enable.partition.eof": True, **(extra_config or {}),
    })
    try:
        meta = consumer.list_topics(topic, timeout=metadata_timeout).topics.get(topic)
        todo = set(meta.partitions) if meta is not None else set()
        if not todo:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(todo)])
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                if strict:
                    raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to the end")
                return
            for msg in consumer.consume(batch, 0.5):
                part = int(msg.partition() or 0)
                err = msg.error()
                if err is None:
                    todo.add(part)  # not at its end any more, if it was
                    yield msg
                elif err.code() == KafkaError._PARTITION_EOF:
                    todo.discard(part)
                elif strict:
                    raise RuntimeError(f"read {topic}: {err}")
    finally:
        consumer.close()
