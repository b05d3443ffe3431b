"""The exactly-once loop's documented policy, driven by fake clients:
retriable -> retry the call; txn_requires_abort -> abort + rewind; fatal -> raise.
(The real-broker behaviour is covered in tests/integration/kafka.)"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from mlmesh.common.lifecycle import StopSignal
from mlmesh.kafka.eos import Output, TransactionalLoop
from mlmesh.kafka.serde import SerdeError


class Msg:
    def __init__(self, offset: int, value: bytes = b"v", partition: int = 0) -> None:
        self._o, self._v, self._p = offset, value, partition

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "in"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes:
        return self._v

    def key(self) -> bytes:
        return b"k"

    def headers(self) -> list[Any]:
        return []


class FakeConsumer:
    def __init__(self, batches: list[list[Msg]], stop: StopSignal) -> None:
        self.batches, self.stop = batches, stop
        self.seeks: list[TopicPartition] = []
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        pass

    def consume(self, n: int, timeout: float) -> list[Msg]:
        if not self.batches:
            self.stop.set()
            return []
        return self.batches.pop(0)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("in", 0)]

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append(tp)

    def consumer_group_metadata(self) -> str:
        return "group-meta"

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    def __init__(self, commit_errors: list[KafkaError] | None = None) -> None:
        self.commit_errors = list(commit_errors or [])
        self.calls: list[str] = []
        self.produced: list[tuple[str, bytes]] = []
        self.offsets: list[list[TopicPartition]] = []

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def produce(self, topic: str, value: bytes, key: Any = None, headers: Any = None) -> None:
        self.produced.append((topic, value))

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(self, offsets: list[TopicPartition], meta: str,
                                    timeout: float) -> None:
        self.offsets.append(offsets)
        self.calls.append("send_offsets")

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def flush(self, timeout: float) -> int:
        return 0


def _loop(batches: list[list[Msg]], producer: FakeProducer, transform=None) -> tuple[
        TransactionalLoop, FakeConsumer]:
    stop = StopSignal()
    consumer = FakeConsumer(batches, stop)
    loop = TransactionalLoop(
        consumer_config={}, producer_config={"transactional.id": "t"}, topics=["in"],
        transform=transform or (lambda m: [Output("out", m.value().upper(), m.key())]),
        service="test", stop=stop, consumer=consumer, producer=producer)  # type: ignore[arg-type]
    return loop, consumer


def test_happy_path_commits_outputs_and_next_offsets():
    producer = FakeProducer()
    loop, consumer = _loop([[Msg(0, b"a"), Msg(1, b"b")]], producer)
    stats = loop.run()
    assert producer.produced == [("out", b"A"), ("out", b"B")]
    assert [(tp.topic, tp.partition, tp.offset) for tp in producer.offsets[0]] == [("in", 0, 2)]
    assert producer.calls == ["init", "begin", "send_offsets", "commit"]
    assert stats.committed_batches == 1 and consumer.closed


def test_retriable_commit_error_is_retried_not_aborted():
    err = KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True)
    producer = FakeProducer([err, err])
    loop, _ = _loop([[Msg(0)]], producer)
    stats = loop.run()
    assert producer.calls.count("commit") == 3 and "abort" not in producer.calls
    assert stats.committed_batches == 1


def test_abortable_error_aborts_and_rewinds_to_batch_start():
    err = KafkaError(KafkaError._FENCED, "abort me", txn_requires_abort=True)
    producer = FakeProducer([err])
    loop, consumer = _loop([[Msg(5), Msg(6)]], producer)
    stats = loop.run()
    assert "abort" in producer.calls
    assert [(tp.partition, tp.offset) for tp in consumer.seeks] == [(0, 5)]
    assert stats.committed_batches == 0 and stats.aborted_batches == 1


def test_fatal_error_raises():
    err = KafkaError(KafkaError._FATAL, "fenced for good", fatal=True)
    loop, _ = _loop([[Msg(0)]], FakeProducer([err]))
    with pytest.raises(KafkaException):
        loop.run()


def test_bad_record_is_dead_lettered_inside_the_transaction():
    def transform(m: Msg):
        if m.value() == b"bad":
            raise SerdeError("decode", "not protobuf")
        return [Output("out", m.value())]

    producer = FakeProducer()
    loop, _ = _loop([[Msg(0, b"ok"), Msg(1, b"bad"), Msg(2, b"ok2")]], producer, transform)
    stats = loop.run()
    topics = [t for t, _ in producer.produced]
    assert topics == ["out", "in.dlq", "out"]
    assert stats.dead_lettered == 1 and stats.produced == 2
    assert producer.offsets[0][0].offset == 3
