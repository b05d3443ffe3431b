"""The launcher's broker is real: what is produced (acks=all) is consumed."""

from __future__ import annotations

from confluent_kafka import Producer

from mlmesh.localstack.base import port_open
from mlmesh.testing.kafka import BrokerHandle, TopicFactory, consume_all


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> int:
    errors: list[object] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(topic, value, key,
                         on_delivery=lambda err, _msg: errors.append(err) if err else None)
    assert producer.flush(30) == 0
    assert errors == []
    return len(records)


def test_produced_message_is_consumed(kafka_bootstrap: str,
                                      kafka_topic_factory: TopicFactory) -> None:
    topic = kafka_topic_factory(partitions=3)
    records = [(f"user-{i}".encode(), f"event-{i}".encode()) for i in range(30)]
    _produce(kafka_bootstrap, topic, records)
    got = consume_all(kafka_bootstrap, topic)
    assert sorted(got) == sorted(records)


def test_same_key_lands_on_one_partition_in_order(kafka_bootstrap: str,
                                                  kafka_topic_factory: TopicFactory) -> None:
    topic = kafka_topic_factory(partitions=6)
    records = [(b"user-42", f"{i}".encode()) for i in range(20)]
    _produce(kafka_bootstrap, topic, records)
    assert consume_all(kafka_bootstrap, topic) == records


def test_stop_frees_ports_and_status_follows(kafka_broker: BrokerHandle) -> None:
    comp = kafka_broker.component
    st = comp.status()
    assert st.running and st.healthy and st.pid is not None
    kafka_broker.stop()
    assert not port_open(comp.port) and not port_open(comp.controller_port)
    st = comp.status()
    assert not st.running and not st.healthy
