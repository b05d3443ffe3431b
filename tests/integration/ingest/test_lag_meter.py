"""Ingest's lag meter on a cluster shared with other consumer groups: it keeps
a client only for the groups that read its topics, and a measurement stops
between groups when asked (CI: ingest took over 30 s to stop on a broker
holding hundreds of test groups, one client per group, and its shutdown closed
those clients under the measuring thread)."""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from ingest.backpressure import LagMeter


def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        c.close()


def test_clients_only_for_groups_of_its_topics_and_a_stop_between_groups(
        kafka_bootstrap: str, kafka_topic_factory) -> None:
    ours, theirs = kafka_topic_factory(prefix="lag-ours"), kafka_topic_factory(prefix="lag-theirs")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        producer.produce(ours, value=b"x", key=str(i).encode())
    assert producer.flush(30) == 0
    tag = uuid.uuid4().hex[:8]
    mine, others = f"mine-{tag}", [f"other-{i}-{tag}" for i in range(30)]
    commit(kafka_bootstrap, mine, ours, 2)
    for group in others:
        commit(kafka_bootstrap, group, theirs, 0)

    now = [0.0]
    meter = LagMeter(kafka_bootstrap, {}, [ours], clock=lambda: now[0])
    try:
        assert meter(threading.Event()) == {mine: 3}
        assert meter.offsets.groups == [mine]  # the others' clients are closed
        asked = meter.scan()
        assert mine in asked and not set(others) & set(asked)
        now[0] += meter.scan.recheck_s  # after recheck_s every group is asked again
        assert set(others) <= set(meter.scan())

        stopped = threading.Event()
        stopped.set()
        assert meter(stopped) == {}  # stops before the first group
    finally:
        meter.close()
    assert meter.offsets.groups == []
