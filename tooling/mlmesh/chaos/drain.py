"""Wait until the mesh has caught up: every consumer group of the mesh's
topics at zero lag and no topic growing for ``quiet_s`` seconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from mlmesh.kafka.committed import CommittedOffsets, GroupScan

log = logging.getLogger(__name__)
TOPICS = ("user_events", "documents", "labels", "feature_updates", "embeddings_written",
          "predictions", "alerts")
IGNORED_GROUPS = ("chaos-*", "ingest-lag-*", "consume-all-*")
# A gap this small between a group's committed offset and a partition's end
# is read to count records, not offsets: transaction markers take offsets no
# consumer commits past, and a features job restarted on the cluster profile
# (a TaskManager or the JobManager lost) leaves an abort marker per open
# transaction at a partition's tail: two groups of a chaos run stood 8
# offsets "behind" on feature_updates whose partitions ended in 3-4 control
# batches each (kafka.tools.DumpLogSegments), nothing left to read
MARKER_GAP = 16


def end_offsets(admin: AdminClient, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    meta = admin.list_topics(timeout=10).topics
    req = {TopicPartition(t, p): OffsetSpec.latest()
           for t in topics if t in meta for p in meta[t].partitions}
    if not req:
        return {}
    return {(tp.topic, tp.partition): int(f.result().offset)
            for tp, f in admin.list_offsets(req, request_timeout=10).items()}


def lag_scan(bootstrap: str, admin: AdminClient) -> GroupScan:
    """The consumer groups the drain and the live line watch: every group
    but the probes' own, a client each while it has offsets on the mesh's
    topics (a group without, asked again after 5 s). Close it after."""
    return GroupScan(admin, CommittedOffsets(bootstrap), exclude=IGNORED_GROUPS,
                     recheck_s=5.0, timeout=10.0)


def group_lags(scan: GroupScan, ends: dict[tuple[str, int], int],
               bootstrap: str | None = None) -> dict[str, int]:
    """Lag per consumer group over the mesh's topics (only partitions it
    committed). With ``bootstrap``, a partition's offsets behind the end are
    read (read_committed) and only *records* count: a transactional topic ends
    with a commit marker that no consumer ever commits past. Committed
    offsets come through a consumer per group (``scan.offsets``): the admin
    client's ListConsumerGroupOffsets crashed the chaos driver with SIGSEGV
    inside librdkafka (``rd_kafka_cgrp_op`` from ``rd_kafka_handle_OffsetFetch``,
    the family of librdkafka #3663/#4605) after broker faults."""
    lags: dict[str, int] = {}
    for gid, committed in scan.answers(ends):
        if isinstance(committed, KafkaException):
            raise committed  # a drain must not call a group caught up unasked
        lag = 0
        for (topic, part), offset in committed.items():
            behind = max(0, ends[(topic, part)] - offset)
            if behind and bootstrap is not None and behind <= MARKER_GAP:
                behind = records_between(bootstrap, topic, part, offset)
            lag += behind
        lags[gid] = lag
    return lags


def records_between(bootstrap: str, topic: str, partition: int, start: int) -> int:
    """Committed records from ``start`` to the end of one partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-drain-probe",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True, "log_level": 3})
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        n = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    return n
                continue
            n += 1
        return n + 1  # could not reach the end: count it as behind
    finally:
        consumer.close()


def wait_caught_up(bootstrap: str, groups: Sequence[str], timeout: float = 120.0) -> float:
    """Block until each of ``groups`` has committed up to the end of what it
    reads (or ``timeout``); the seconds it took."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    scan = lag_scan(bootstrap, admin)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            try:
                lags = group_lags(scan, end_offsets(admin, TOPICS), bootstrap)
            except Exception as exc:  # a broker still recovering: try again
                log.info("lag probe failed", extra={"error": repr(exc)})
                lags = {}
            if all(lags.get(g, 1) == 0 for g in groups):
                break
            time.sleep(0.5)
    finally:
        scan.close()
    return round(time.monotonic() - t0, 1)


def wait_drained(bootstrap: str, timeout: float = 600.0, quiet_s: float = 15.0,
                 expect_groups: Sequence[str] = (), ignore_groups: Sequence[str] = ()
                 ) -> dict[str, object]:
    """Block until drained or ``timeout``; what was seen last. The lags of
    ``ignore_groups`` are reported, not waited for."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    scan = lag_scan(bootstrap, admin)
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    last_ends: dict[tuple[str, int], int] = {}
    stable_since = time.monotonic()
    lags: dict[str, int] = {}
    try:
        while time.monotonic() < deadline:
            try:
                ends = end_offsets(admin, TOPICS)
                lags = group_lags(scan, ends, bootstrap)
            except Exception as exc:  # a broker still recovering: try again
                log.info("drain probe failed", extra={"error": repr(exc)})
                time.sleep(2)
                continue
            if ends != last_ends:
                last_ends, stable_since = ends, time.monotonic()
            missing = [g for g in expect_groups if g not in lags]
            quiet = time.monotonic() - stable_since
            behind = [g for g, v in lags.items() if v and g not in ignore_groups]
            if not missing and not behind and quiet >= quiet_s:
                return {"drained": True, "seconds": round(time.monotonic() - t0, 1),
                        "lags": lags}
            time.sleep(1.0)
    finally:
        scan.close()
    return {"drained": False, "seconds": round(time.monotonic() - t0, 1), "lags": lags}
