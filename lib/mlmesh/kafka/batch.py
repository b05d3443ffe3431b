"""What both consume loops (the exactly-once loop and the sink loop) do with a
consumed batch: drop what is not a record, and find where to commit."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from mlmesh.kafka.dlq import coords

log = logging.getLogger(__name__)


def usable(msg: Message) -> bool:
    """True for a record. A partition EOF is skipped, a fatal consumer error
    raises, any other (transient) consumer error is logged and skipped."""
    err = msg.error()
    if err is None:
        return True
    if err.code() == KafkaError._PARTITION_EOF:
        return False
    if err.fatal():
        raise KafkaException(err)
    log.warning("consumer error", extra={"error": str(err)})
    return False


def next_offsets(batch: list[Message],
                 owned: set[tuple[str, int]] | None = None) -> list[TopicPartition]:
    """Where to commit after ``batch``: one past the last record of each of its
    partitions (of those in ``owned``, when given)."""
    last: dict[tuple[str, int], int] = {}
    for msg in batch:
        topic, partition, offset = coords(msg)
        last[(topic, partition)] = offset
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()
            if owned is None or (t, p) in owned]
