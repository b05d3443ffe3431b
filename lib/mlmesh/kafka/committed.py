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

import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

TopicPart = tuple[str, int]
Answer = dict[TopicPart, int] | KafkaException  # a group's offsets, or why it gave none


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


class GroupScan:
    """Which of a cluster's consumer groups to ask, bounded on a cluster shared
    with other applications: the listed groups matching ``patterns`` (fnmatch;
    none: every group) and none of ``exclude``, less those found idle (no committed offset where
    asked) in the last ``recheck_s``, at most ``limit`` of them (the groups
    already held first, then by name; the rest are logged). A group no longer
    listed, or found idle, has its consumer in ``offsets`` closed."""

    def __init__(self, admin: AdminClient, offsets: CommittedOffsets,
                 patterns: Sequence[str] = (), limit: int = 200, recheck_s: float = 60.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 exclude: Sequence[str] = ()) -> None:
        self.admin = admin
        self.offsets = offsets
        self.patterns = [p.strip() for p in patterns if p.strip()]
        self.exclude = [p.strip() for p in exclude if p.strip()]
        self.limit = limit
        self.recheck_s = recheck_s
        self.timeout = timeout
        self.clock = clock
        self.left_out = 0  # due groups over ``limit`` at the last scan
        self._idle: dict[str, float] = {}  # group -> when it was found idle

    def wanted(self, group: str) -> bool:
        if any(fnmatch.fnmatchcase(group, p) for p in self.exclude):
            return False
        return not self.patterns or any(fnmatch.fnmatchcase(group, p) for p in self.patterns)

    def __call__(self) -> list[str]:
        listing = self.admin.list_consumer_groups(request_timeout=self.timeout)
        listed = {g.group_id for g in listing.result(self.timeout).valid
                  if self.wanted(g.group_id)}
        for gone in set(self.offsets.groups) - listed:
            self.offsets.forget(gone)
        for gone in set(self._idle) - listed:
            del self._idle[gone]
        now = self.clock()
        held = set(self.offsets.groups)
        due = sorted((g for g in listed
                      if now - self._idle.get(g, -float("inf")) >= self.recheck_s),
                     key=lambda g: (g not in held, g))
        left_out = max(0, len(due) - self.limit)
        if left_out and left_out != self.left_out:
            log.warning("more consumer groups than the limit: some are not asked",
                        extra={"due": len(due), "limit": self.limit,
                               "first_left_out": due[self.limit]})
        self.left_out = left_out
        return due[:self.limit]

    def answers(self, parts: Iterable[TopicPart], named: Sequence[str] | None = None,
                stop: threading.Event | None = None) -> Iterator[tuple[str, Answer]]:
        """Each group's committed offsets on ``parts``: the groups this scan
        picks, or the ``named`` ones. A group with none is left out (a picked
        one is marked :meth:`idle`). A group whose answer failed comes with its
        exception, and the caller decides: skip it (a gate, a monitor: the
        other groups still count) or fail the whole probe (a drain, which must
        not call a group caught up unasked). Stops between groups once
        ``stop`` is set."""
        parts = list(parts)
        for group in (self() if named is None else named):
            if stop is not None and stop.is_set():
                return
            try:
                got = self.offsets.committed(group, parts)
            except KafkaException as exc:
                yield group, exc
                continue
            if got:
                yield group, got
            elif named is None:
                self.idle(group)

    def idle(self, group: str) -> None:
        """``group`` had no offset where asked: close its client for ``recheck_s``."""
        self._idle[group] = self.clock()
        self.offsets.forget(group)

    def close(self) -> None:
        """Close every group client (once nothing measures any more)."""
        self.offsets.close()
