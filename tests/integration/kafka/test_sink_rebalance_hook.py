"""SinkLoop calls ``on_rebalance`` when the group hands it partitions and
again when a second member joins and takes some away (the feature writer
forgets its cache of stored window ends there), and keeps consuming."""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from mlmesh.common.lifecycle import StopSignal
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.sink import Rejected, SinkLoop
from mlmesh.testing.kafka import TopicFactory


def _wait(cond: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.1)
    return False


def test_rebalance_hook_runs_at_assignment_and_when_a_member_joins(
        kafka_bootstrap: str, kafka_topic_factory: TopicFactory) -> None:
    topic = kafka_topic_factory(partitions=2)
    group = f"rb-{uuid.uuid4().hex[:6]}"
    calls: list[float] = []
    seen: list[bytes] = []

    def handle(batch: list) -> list[Rejected]:  # type: ignore[type-arg]
        seen.extend(m.value() for m in batch)
        return []

    stop = StopSignal()
    loop = SinkLoop(consumer_config=consumer_config(kafka_bootstrap, group, "rb-test"),
                    topics=[topic], handle_batch=handle, service="test", stop=stop,
                    dlq_producer=MeshProducer(producer_config(kafka_bootstrap, "rb")),
                    on_rebalance=lambda: calls.append(time.monotonic()))
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    try:
        assert _wait(lambda: bool(calls)), calls  # the first assignment
        first = len(calls)
        for i in range(20):
            producer.produce(topic, f"v{i}".encode(), key=f"u{i}".encode())
        assert producer.flush(30) == 0
        assert _wait(lambda: len(seen) == 20), len(seen)

        other = Consumer(consumer_config(kafka_bootstrap, group, "rb-other"))
        other.subscribe([topic])
        try:
            # (only the loop's own thread may call its consumer: a second
            # thread in assignment() holds the GIL its rebalance callback needs)
            assert _wait(lambda: other.poll(0.2) is None and len(other.assignment()) == 1
                         and len(calls) > first), calls
        finally:
            other.close()
    finally:
        stop.set()
        thread.join(30)
    assert sorted(seen) == sorted(f"v{i}".encode() for i in range(20))
