"""A broker SIGKILLed and restarted keeps every acknowledged (acks=all) message."""

from __future__ import annotations

from confluent_kafka import Producer

from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.testing.kafka import BrokerHandle, consume_all


def _produce_acked(bootstrap: str, topic: str, n: int, start: int = 0) -> list[bytes]:
    acked: list[bytes] = []
    failed: list[object] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is None:
            acked.append(msg.value())  # type: ignore[attr-defined]
        else:
            failed.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    for i in range(start, start + n):
        producer.produce(topic, f"v{i:05d}".encode(), f"k{i % 7}".encode(),
                         on_delivery=on_delivery)
        if i % 500 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    assert failed == []
    return acked


def test_acked_messages_survive_sigkill(kafka_broker: BrokerHandle) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = "crash.t"
    ensure_topics(bootstrap, [TopicSpec(topic, 3)])
    acked = _produce_acked(bootstrap, topic, 2000)
    assert len(acked) == 2000

    kafka_broker.kill()
    assert not kafka_broker.alive
    kafka_broker.restart()

    values = [v or b"" for _k, v in consume_all(bootstrap, topic, timeout=60)]
    assert sorted(values) == sorted(acked)

    # and the restarted broker takes new writes on the same topic
    more = _produce_acked(bootstrap, topic, 100, start=2000)
    assert len(consume_all(bootstrap, topic, timeout=60)) == len(acked) + len(more)
