"""The monitor's committed offsets reach the last record of each partition of
a topic written in transactions (#31): two producers interleave transactions of a few records
and abort some, so the monitor's reads skip markers (often two side by side)
and aborted records. faust's own gap tracking stalls when a skip starts at the
committed position (faust-streaming #606): the committed offsets crept far
behind what had been processed, which the lag probe and the demo reported as
lag and a restart replayed. Its replacement (monitor.seek.committable) commits
past every offset never delivered."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from monitor import synthetic as sy


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    done = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    return {tp.partition: tp.offset for tp in done.result().topic_partitions
            if tp.topic == topic}


def after_last_record(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset after its last committed record (the markers
    after it are never delivered: nothing after them tells a consumer where
    they end, so a committed offset stops before them, as librdkafka's does)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"last-{uuid.uuid4().hex[:6]}",
                  "isolation.level": "read_committed", "enable.partition.eof": True,
                  "enable.auto.commit": False})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: dict[int, int] = {}
    eof: set[int] = set()
    deadline = time.monotonic() + 60
    while len(eof) < len(parts) and time.monotonic() < deadline:
        for m in c.consume(1000, 0.5):
            if m.error() is None:
                out[m.partition()] = max(out.get(m.partition(), 0), m.offset() + 1)
            else:
                eof.add(m.partition())
    c.close()
    return out


def test_commits_reach_the_end_of_a_transactional_topic(monitor_factory: Any) -> None:
    mon = monitor_factory(env={"MLMESH_MONITOR_COMMIT_INTERVAL_S": "0.5"})
    topic = mon.prefix + "feature_updates"
    producers = []
    for name in ("a", "b"):
        p = Producer({"bootstrap.servers": mon.bootstrap, "linger.ms": 2,
                      "transactional.id": f"t-markers-{name}-{uuid.uuid4().hex[:8]}"})
        p.init_transactions(30)
        producers.append(p)
    now = int(time.time() * 1000)
    committed = 0
    for i in range(300):
        p = producers[i % 2]
        p.begin_transaction()
        for j in range(4):
            out = sy.feature_update(f"u{(i * 4 + j) % 40}", freshness_ms=500, ts_ms=now)
            p.produce(topic, out.value, key=out.key.encode(), timestamp=out.ts_ms)
        if i % 10 == 9:
            p.flush(30)
            p.abort_transaction(30)  # on the broker, then thrown away
        else:
            p.commit_transaction(30)
            committed += 4
    mon.wait_for(lambda s: s["processed"].get("feature_updates", 0) >= committed, 120,
                 "every committed record")
    want = after_last_record(mon.bootstrap, topic)
    deadline = time.monotonic() + 60
    got = committed_offsets(mon.bootstrap, mon.app_id, topic)
    while got != want and time.monotonic() < deadline:
        time.sleep(1)
        got = committed_offsets(mon.bootstrap, mon.app_id, topic)
    assert got == want, f"committed {got}, the records end at {want}"
    assert mon.summary()["processed"]["feature_updates"] == committed
