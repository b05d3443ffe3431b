"""Consumer lag of the cluster's consumer groups (committed offsets vs
log-end offsets). Blocking: run it in an executor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from mlmesh.kafka.committed import CommittedOffsets, GroupScan
from monitor.metrics.lag import PartitionLag, TopicPart, compute_lag

log = logging.getLogger(__name__)


class LagProbe:
    """Committed offsets through a consumer per group and end offsets from
    the partitions' watermarks: the admin API's group-offset and list-offsets
    requests can abort the process when a broker dies mid-request
    (:mod:`mlmesh.kafka.committed`). Listing the groups stays on the admin API.

    The groups asked are those matching ``groups`` (fnmatch patterns; none:
    every group), at most ``max_groups``; one with no committed offset has its
    client closed and is asked again after ``recheck_s``
    (:class:`~mlmesh.kafka.committed.GroupScan`), so a cluster shared with
    other applications costs a bounded number of clients."""

    def __init__(self, bootstrap: str, extra: dict[str, str] | None = None,
                 timeout: float = 10.0, groups: Sequence[str] = (), max_groups: int = 200,
                 recheck_s: float = 15.0) -> None:
        conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "log_level": 3}
        conf.update(extra or {})
        self.admin = AdminClient(conf)
        self.meta = Consumer({**conf, "group.id": "mlmesh-monitor-lagprobe",
                              "enable.auto.commit": False})
        self.offsets = CommittedOffsets(bootstrap, extra, timeout)
        self.scan = GroupScan(self.admin, self.offsets, groups, max_groups, recheck_s, timeout)
        self.timeout = timeout

    def partitions(self) -> list[TopicPart]:
        md = self.meta.list_topics(timeout=self.timeout)
        return sorted((t, p) for t, tmd in md.topics.items()
                      if not t.startswith("__") and tmd.error is None for p in tmd.partitions)

    def committed(self, group: str, parts: list[TopicPart] | None = None
                  ) -> dict[TopicPart, int]:
        """The group's committed offsets on ``parts`` (default: every partition)."""
        return self.offsets.committed(group, self.partitions() if parts is None else parts)

    def end_offsets(self, parts: set[TopicPart]) -> dict[TopicPart, int]:
        out: dict[TopicPart, int] = {}
        for t, p in sorted(parts):
            try:
                _low, high = self.meta.get_watermark_offsets(TopicPartition(t, p),
                                                             timeout=self.timeout)
                out[(t, p)] = int(high)
            except KafkaException as exc:
                log.warning("end offset unavailable", extra={"topic": t, "partition": p,
                                                             "error": str(exc)})
        return out

    def fetch(self) -> list[PartitionLag]:
        parts = self.partitions()
        committed: dict[str, dict[TopicPart, int]] = {}
        for group, got in self.scan.answers(parts):
            if isinstance(got, KafkaException):  # this group's answer failed; the others count
                log.warning("committed offsets unavailable", extra={"group": group,
                                                                    "error": str(got)})
            else:
                committed[group] = got
        held = {tp for offsets in committed.values() for tp in offsets}
        return compute_lag(committed, self.end_offsets(held))

    def close(self) -> None:
        self.offsets.close()
        self.meta.close()
