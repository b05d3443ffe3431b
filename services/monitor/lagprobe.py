"""Consumer lag of every consumer group, from the Kafka admin API (committed
offsets vs log-end offsets). Blocking: run it in an executor."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from monitor.metrics.lag import PartitionLag, TopicPart, compute_lag

log = logging.getLogger(__name__)


class LagProbe:
    def __init__(self, bootstrap: str, extra: dict[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 3}
        conf.update(extra or {})
        self.admin = AdminClient(conf)
        self.timeout = timeout

    def groups(self) -> list[str]:
        res = self.admin.list_consumer_groups(request_timeout=self.timeout).result()
        return sorted(g.group_id for g in res.valid)

    def committed(self, group: str) -> dict[TopicPart, int]:
        futs = self.admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout)
        out: dict[TopicPart, int] = {}
        for fut in futs.values():
            for tp in fut.result().topic_partitions or []:
                if tp.error is None:
                    out[(tp.topic, tp.partition)] = int(tp.offset)
        return out

    def end_offsets(self, parts: set[TopicPart]) -> dict[TopicPart, int]:
        if not parts:
            return {}
        req = {TopicPartition(t, p): OffsetSpec.latest() for t, p in parts}
        out: dict[TopicPart, int] = {}
        for tp, fut in self.admin.list_offsets(req, request_timeout=self.timeout).items():
            try:
                out[(tp.topic, tp.partition)] = int(fut.result().offset)
            except KafkaException as exc:
                log.warning("end offset unavailable", extra={"topic": tp.topic,
                                                             "partition": tp.partition,
                                                             "error": str(exc)})
        return out

    def fetch(self) -> list[PartitionLag]:
        committed = {g: self.committed(g) for g in self.groups()}
        parts = {tp for offsets in committed.values() for tp in offsets}
        return compute_lag(committed, self.end_offsets(parts))
