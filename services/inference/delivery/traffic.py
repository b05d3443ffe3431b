"""Read the predictions topic, and the labels topic when given, from a point in
time: the served traffic a rollout step is judged on and the labels that arrived
for it (read_committed, no group: nothing is committed)."""

from __future__ import annotations

import logging
import os
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

from inference.delivery.gates import Window
from mlmesh.events.v1 import label_pb2, prediction_made_pb2
from mlmesh.kafka.config import consumer_config
from mlmesh.kafka.serde import SerdeError, decode

log = logging.getLogger(__name__)


class PredictionTap:
    def __init__(self, bootstrap: str, topic: str, extra: dict[str, str] | None = None,
                 labels_topic: str = "") -> None:
        self.topic, self.labels_topic = topic, labels_topic
        client = f"rollout-gates-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._consumer = Consumer(consumer_config(bootstrap, client, client, extra=extra))
        self._window: Window | None = None
        self._since_ms = 0

    def seek(self, since_ms: int, timeout: float = 10.0) -> None:
        """Start reading at the first record produced at or after ``since_ms``."""
        wanted: list[TopicPartition] = []
        for topic in filter(None, (self.topic, self.labels_topic)):
            meta = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
            if meta.error is not None:
                if topic == self.labels_topic:  # no labels yet: the AUC gate is not measured
                    log.warning("labels topic unreadable", extra={"topic": topic,
                                                                  "error": str(meta.error)})
                    continue
                raise RuntimeError(f"predictions topic {topic!r}: {meta.error}")
            wanted += [TopicPartition(topic, p, since_ms) for p in meta.partitions]
        found = self._consumer.offsets_for_times(wanted, timeout=timeout)
        for tp in found:
            if tp.offset < 0:  # nothing at or after since_ms yet: from the end
                tp.offset = self._consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=timeout)[1]
        self._consumer.assign(found)
        self._since_ms = since_ms

    def window(self, candidate: str, primary: str, since_ms: int) -> Window:
        """A new window (the one :meth:`drain` fills from now on)."""
        self._window = Window(candidate, primary)
        self._since_ms = since_ms
        return self._window

    def drain(self, max_records: int = 50_000, timeout: float = 0.2) -> int:
        """Read what has arrived into the current window; how many were read."""
        n = 0
        while n < max_records:
            msgs = self._consumer.consume(1000, timeout if n == 0 else 0.0)
            if not msgs:
                break
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("predictions read error", extra={"error": str(err)})
                    continue
                n += 1
                _kind, ts = msg.timestamp()
                if self._window is None or ts < self._since_ms:
                    continue
                try:
                    if msg.topic() == self.topic:
                        self._window.add(decode(prediction_made_pb2.PredictionMade,
                                                msg.value()))
                    else:
                        self._window.add_label(decode(label_pb2.Label, msg.value()))
                except SerdeError:
                    continue
        return n

    def close(self) -> None:
        self._consumer.close()
