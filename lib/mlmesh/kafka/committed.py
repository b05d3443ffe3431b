"""Committed offsets of consumer groups, read the way that survives a broker
dying mid-request.

librdkafka's AdminClient ``ListConsumerGroupOffsets`` (and other
coordinator-routed admin requests) can abort the whole process when a broker
goes away with the request in flight: ``rd_kafka_enq_once_del_source_return:
Assertion `eonce->refcnt > 0' failed`` (librdkafka #3663 and #4605, open). The
cluster chaos run hit it in ingest's lag gate when two of three brokers were
SIGKILLed. A plain consumer with the group's id asks the same question
(OffsetFetch) through its own coordinator logic, never joins the group, and
times out with an error instead. One such consumer per group is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, TopicPartition

TopicPart = tuple[str, int]


class CommittedOffsets:
    def __init__(self, bootstrap: str, extra: dict[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        self.conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 3,
                                     "enable.auto.commit": False,
                                     "enable.partition.eof": False}
        self.conf.update(extra or {})
        self.timeout = timeout
        self._consumers: dict[str, Consumer] = {}

    def _consumer(self, group: str) -> Consumer:
        c = self._consumers.get(group)
        if c is None:
            c = self._consumers[group] = Consumer({**self.conf, "group.id": group,
                                                   "client.id": f"offsets-{group}"})
        return c

    def committed(self, group: str, parts: Iterable[TopicPart]) -> dict[TopicPart, int]:
        """The group's committed offset of each of ``parts`` that has one."""
        tps = [TopicPartition(t, p) for t, p in parts]
        if not tps:
            return {}
        out: dict[TopicPart, int] = {}
        for tp in self._consumer(group).committed(tps, timeout=self.timeout):
            if tp.error is None and tp.offset >= 0:
                out[(tp.topic, tp.partition)] = int(tp.offset)
        return out

    @property
    def groups(self) -> list[str]:
        """The groups with a consumer open."""
        return sorted(self._consumers)

    def forget(self, group: str) -> None:
        """Close ``group``'s consumer (a later question opens another)."""
        c = self._consumers.pop(group, None)
        if c is not None:
            c.close()

    def close(self) -> None:
        while self._consumers:
            self._consumers.popitem()[1].close()
