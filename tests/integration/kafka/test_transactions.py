"""Transactions on the single-node broker: committed visible, aborted not."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from mlmesh.testing.kafka import TopicFactory, consume_all


def test_committed_visible_aborted_hidden(kafka_bootstrap: str,
                                          kafka_topic_factory: TopicFactory) -> None:
    topic = kafka_topic_factory(partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap,
                         "transactional.id": f"txn-test-{uuid.uuid4().hex[:8]}",
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, f"committed-{i}".encode(), f"u{i}".encode())
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, f"aborted-{i}".encode(), f"u{i}".encode())
    producer.flush(30)  # the aborted records really reach the log
    producer.abort_transaction(30)

    committed = sorted(v or b"" for _k, v in consume_all(kafka_bootstrap, topic))
    assert committed == [f"committed-{i}".encode() for i in range(5)]

    everything = sorted(v or b"" for _k, v in consume_all(kafka_bootstrap, topic,
                                                    isolation="read_uncommitted"))
    assert everything == sorted(committed + [f"aborted-{i}".encode() for i in range(5)])
