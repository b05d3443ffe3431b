"""``read_to_end`` driven by a fake consumer: a partition is done at its EOF
unless a record follows; strict raises on errors and on the deadline, lenient
skips errors and stops. (Real brokers: tests/integration, via consume_all.)"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError

from mlmesh.kafka import read


class Msg:
    def __init__(self, partition: int, offset: int = 0, code: int | None = None) -> None:
        self._p, self._o = partition, offset
        self._err = None if code is None else KafkaError(code)

    def error(self) -> KafkaError | None:
        return self._err

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


def eof(p: int) -> Msg:
    return Msg(p, code=KafkaError._PARTITION_EOF)


class FakeConsumer:
    def __init__(self, partitions: Sequence[int], batches: list[list[Msg]]) -> None:
        self.partitions, self.batches = partitions, batches
        self.conf: dict[str, Any] = {}
        self.assigned: list[Any] = []
        self.closed = False

    def __call__(self, conf: dict[str, Any]) -> FakeConsumer:
        self.conf = conf
        return self

    def list_topics(self, topic: str, timeout: float) -> Any:
        meta = SimpleNamespace(partitions={p: None for p in self.partitions}, error=None)
        return SimpleNamespace(topics={topic: meta} if self.partitions else {})

    def assign(self, tps: list[Any]) -> None:
        self.assigned = tps

    def consume(self, n: int, timeout: float) -> list[Msg]:
        if not self.batches:
            time.sleep(0.01)
            return []
        return self.batches.pop(0)

    def close(self) -> None:
        self.closed = True


def run(fake: FakeConsumer, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> list[tuple[int, int]]:
    monkeypatch.setattr(read, "Consumer", fake)
    return [(m.partition(), m.offset()) for m in read.read_to_end("b:9092", "t", **kw)]


def test_reads_every_partition_from_the_beginning_to_eof(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConsumer([0, 1], [[Msg(0, 0), Msg(1, 0), eof(0)], [Msg(1, 1), eof(1)],
                                 [Msg(0, 9)]])
    got = run(fake, monkeypatch, extra_config={"log_level": 3}, group_prefix="x-")
    assert got == [(0, 0), (1, 0), (1, 1)]
    assert [(tp.partition, tp.offset) for tp in fake.assigned] == [(0, OFFSET_BEGINNING),
                                                                    (1, OFFSET_BEGINNING)]
    assert fake.conf["isolation.level"] == "read_committed" and fake.conf["log_level"] == 3
    assert fake.conf["group.id"].startswith("x-") and fake.closed


def test_a_record_after_eof_reopens_the_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConsumer([0, 1], [[eof(0), Msg(0, 5)], [eof(1)], [eof(0)]])
    assert run(fake, monkeypatch) == [(0, 5)]
    assert fake.batches == []


def test_missing_topic_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConsumer([], [])
    assert run(fake, monkeypatch) == [] and fake.closed and fake.assigned == []


def test_strict_raises_on_error_and_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConsumer([0], [[Msg(0, code=KafkaError._TRANSPORT)]])
    with pytest.raises(RuntimeError, match="read t"):
        run(fake, monkeypatch)
    assert fake.closed
    with pytest.raises(TimeoutError, match=r"partitions \[0\]"):
        run(FakeConsumer([0], []), monkeypatch, timeout=-1.0)


def test_lenient_skips_errors_and_stops_at_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConsumer([0, 1], [[Msg(0, code=KafkaError._TRANSPORT), Msg(0, 1), eof(0)]])
    assert run(fake, monkeypatch, strict=False, timeout=0.1) == [(0, 1)]
    assert fake.closed
