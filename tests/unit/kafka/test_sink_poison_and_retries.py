"""Bounded retries (#28): the sink loop isolates the records a store rejects
while it answers (split until alone, dead-lettered with the store's reason, the
others written), never dead-letters for a store that is down, gives up on a
batch it cannot write past its stall limit, and stops at once on shutdown; the
Retry helper bounds attempts, time and shutdown."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.retry import RetriesExhausted, Retry, RetryStopped
from mlmesh.events.v1 import dead_letter_pb2
from mlmesh.kafka.sink import Rejected, SinkLoop

pytestmark = pytest.mark.unit


class FakeConsumer:
    def __init__(self, batches: list[list[Message]]) -> None:
        self.batches = batches
        self.commits: list[list[TopicPartition]] = []
        self.commit_errors: list[KafkaException] = []

    def subscribe(self, *_a: Any, **_k: Any) -> None: ...
    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("src", 0)]
    def pause(self, _p: Any) -> None: ...
    def resume(self, _p: Any) -> None: ...
    def poll(self, _t: float) -> None: ...
    def close(self) -> None: ...

    def consume(self, _n: int, _t: float) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.commits.append(offsets)


class FakeDlq:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def produce(self, topic: str, value: bytes, *_a: Any) -> None:
        self.sent.append((topic, value))

    def flush(self, _t: float) -> int:
        return 0


def _batch(n: int) -> list[Message]:
    return [Message(topic="src", partition=0, offset=i, key=f"k{i}".encode(),
                    value=f"v{i}".encode()) for i in range(n)]


class Store:
    """Rejects any batch holding a poison value, or everything while down."""

    def __init__(self, poison: set[bytes]) -> None:
        self.poison, self.down, self.written = poison, False, []  # type: ignore[var-annotated]

    def write(self, batch: list[Message]) -> list[Rejected]:
        if self.down:
            raise ConnectionError("store unavailable")
        bad = [m.value() for m in batch if m.value() in self.poison]
        if bad:
            raise ValueError(f"store refused the batch: bad field in {bad[0]!r}")
        self.written += [m.value() for m in batch]
        return []


def _loop(store: Store, batches: list[list[Message]], stop: StopSignal | None = None,
          probe: Any = True, **kw: Any) -> tuple[SinkLoop, FakeConsumer, FakeDlq]:
    consumer, dlq = FakeConsumer(batches), FakeDlq()
    stop = stop or StopSignal()
    loop = SinkLoop(consumer_config={}, topics=["src"], handle_batch=store.write,
                    service="t", stop=stop, dlq_producer=dlq,  # type: ignore[arg-type]
                    consumer=consumer, max_backoff=0.01,  # type: ignore[arg-type]
                    probe=(lambda: not store.down) if probe is True else probe, **kw)
    return loop, consumer, dlq


def test_poison_records_are_isolated_and_dead_lettered_the_rest_written() -> None:
    store = Store({b"v3", b"v11"})
    loop, consumer, dlq = _loop(store, [_batch(16)])
    assert loop._process(_batch(16))
    assert sorted(store.written) == sorted(f"v{i}".encode() for i in range(16)
                                           if i not in (3, 11))
    letters = [dead_letter_pb2.DeadLetter.FromString(v) for _t, v in dlq.sent]
    assert [(t, d.original, d.error_class) for (t, _v), d in zip(dlq.sent, letters, strict=True)] \
        == [("src.dlq", b"v3", "store_rejected"), ("src.dlq", b"v11", "store_rejected")]
    assert "bad field" in letters[0].reason
    assert consumer.commits[-1][0].offset == 16  # the whole batch is done


def test_one_bad_record_in_500_is_dead_lettered_and_499_written() -> None:
    store = Store({b"v377"})
    loop, consumer, dlq = _loop(store, [])
    assert loop._process(_batch(500))
    assert len(store.written) == 499 and b"v377" not in store.written
    assert [dead_letter_pb2.DeadLetter.FromString(v).original for _t, v in dlq.sent] == [b"v377"]
    assert consumer.commits[-1][0].offset == 500  # the partition moves on


def test_shutdown_during_a_failing_commit_ends_within_its_deadline() -> None:
    store = Store(set())
    stop = StopSignal()
    loop, consumer, _dlq = _loop(store, [], stop=stop,
                                 commit_retry=Retry(attempts=10**6, deadline_s=30.0,
                                                    backoff_s=0.05, max_backoff_s=0.05))
    consumer.commit_errors = [KafkaException(KafkaError(KafkaError._TIMED_OUT, "t", retriable=True))
                              for _ in range(10**4)]
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert loop._process(_batch(2))  # the write is done; the commit gives up on stop
    assert time.monotonic() - started < 2.0 and consumer.commits == []


def test_a_store_that_is_down_is_waited_for_never_dead_lettered() -> None:
    store = Store(set())
    store.down = True
    loop, _consumer, dlq = _loop(store, [])
    timer = threading.Timer(0.5, lambda: setattr(store, "down", False))
    timer.start()
    assert loop._process(_batch(8))
    assert dlq.sent == [] and len(store.written) == 8 and loop.stats.retries >= 3
    # no probe: a store error is never taken for the data's fault either
    store2 = Store({b"v1"})
    loop2, _c, dlq2 = _loop(store2, [], probe=None, max_stall_s=0.3)
    with pytest.raises(RetriesExhausted, match="could not be written"):
        loop2._process(_batch(4))
    assert dlq2.sent == [] and store2.written == []


def test_shutdown_ends_the_wait_at_once_with_nothing_committed() -> None:
    store = Store(set())
    store.down = True
    stop = StopSignal()
    loop, consumer, dlq = _loop(store, [], stop=stop)
    threading.Timer(0.2, stop.set).start()
    assert loop._process(_batch(4)) is False
    assert consumer.commits == [] and dlq.sent == []


def test_commit_retries_are_bounded() -> None:
    store = Store(set())
    loop, consumer, _dlq = _loop(store, [], commit_retry=Retry(attempts=5, backoff_s=0.001))
    consumer.commit_errors = [KafkaException(KafkaError(KafkaError._TIMED_OUT, "t", retriable=True))
                              for _ in range(2)]
    assert loop._process(_batch(2)) and consumer.commits[-1][0].offset == 2
    consumer.commit_errors = [KafkaException(KafkaError(KafkaError._TIMED_OUT, "t", retriable=True))
                              for _ in range(100)]
    assert loop._process(_batch(2))  # gave up on the commit: the batch replays, idempotent
    assert len(consumer.commits) == 1


def test_retry_has_attempts_a_deadline_and_a_stop() -> None:
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise TimeoutError("later")

    fast = Retry(attempts=4, deadline_s=60, backoff_s=0.001)
    with pytest.raises(RetriesExhausted, match="after 4 attempts"):
        fast.call(failing, lambda e: isinstance(e, TimeoutError), "x")
    assert len(calls) == 4
    with pytest.raises(ValueError):  # not retriable: at once
        fast.call(lambda: int("x"), lambda e: isinstance(e, TimeoutError), "x")
    with pytest.raises(RetriesExhausted):
        Retry(attempts=10**6, deadline_s=0.05, backoff_s=0.01).call(
            failing, lambda e: True, "x")
    with pytest.raises(RetryStopped):
        fast.call(failing, lambda e: True, "x", stop=lambda: True)
    assert Retry().call(lambda: 7, lambda e: True, "x") == 7


def test_a_store_that_answers_but_takes_no_writes_is_waited_for() -> None:
    """An overloaded store (its probe answers, its writes fail for a while):
    nothing of the batch was written, so no record is taken for poison."""
    store = Store(set())
    calls = {"n": 0}
    write = store.write

    def overloaded(batch: list[Message]) -> list[Rejected]:
        calls["n"] += 1
        if calls["n"] <= 25:
            raise TimeoutError("store busy")
        return write(batch)

    store.write = overloaded  # type: ignore[method-assign]
    loop, consumer, dlq = _loop(store, [])
    assert loop._process(_batch(4))
    assert dlq.sent == [] and sorted(store.written) == [b"v0", b"v1", b"v2", b"v3"]
    assert consumer.commits[-1][0].offset == 4


# -- a rebalance while the loop pauses for a failing store: a record of a
# partition assigned during the pause is sought back to, not dropped; after any
# rebalance the whole assignment is resumed (a partition paused, lost and
# assigned again keeps librdkafka's pause flag under cooperative-sticky)


class RebalancingConsumer(FakeConsumer):
    """Delivers one record of a newly assigned partition from the pause's poll."""

    def __init__(self, batches: list[list[Message]], sink: list[SinkLoop]) -> None:
        super().__init__(batches)
        self.sink = sink
        self.seeks: list[tuple[str, int, int]] = []
        self.paused: list[tuple[str, int]] = []
        self.resumed: list[list[tuple[str, int]]] = []
        self.stray: Message | None = Message(topic="src", partition=1, offset=7,
                                             key=b"k", value=b"new")

    def poll(self, _t: float) -> Message | None:  # type: ignore[override]
        msg, self.stray = self.stray, None
        if msg is not None:
            self.sink[0]._rebalanced(self, [TopicPartition("src", 1)])  # type: ignore[arg-type]
        return msg

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def pause(self, parts: Any) -> None:
        self.paused += [(p.topic, p.partition) for p in parts]

    def resume(self, parts: Any) -> None:
        self.resumed.append([(p.topic, p.partition) for p in parts])


def test_a_record_polled_during_the_pause_is_sought_back_not_dropped() -> None:
    store = Store(set())
    store.down = True
    stop = StopSignal()
    holder: list[SinkLoop] = []
    consumer = RebalancingConsumer([_batch(3)], holder)
    writes = {"n": 0}

    def write(batch: list[Message]) -> list[Any]:
        writes["n"] += 1
        if writes["n"] == 1:
            raise ConnectionError("store unavailable")  # one failure: the loop pauses
        if writes["n"] >= 2:
            stop.set()
        return []

    loop = SinkLoop(consumer_config={}, topics=["src"], handle_batch=write, service="t",
                    stop=stop, dlq_producer=FakeDlq(),  # type: ignore[arg-type]
                    consumer=consumer, max_backoff=0.01,  # type: ignore[arg-type]
                    probe=lambda: False)
    holder.append(loop)
    loop.run()
    assert consumer.seeks == [("src", 1, 7)]  # read again once the pause ends
    assert ("src", 1) in consumer.paused
    assert consumer.resumed, "the assignment is resumed after the pause"
    assert consumer.commits and consumer.commits[0][0].offset == 3


def test_after_a_rebalance_the_assignment_is_resumed_before_reading_on() -> None:
    stop = StopSignal()
    holder: list[SinkLoop] = []
    consumer = RebalancingConsumer([], holder)
    consumer.stray = None
    calls = {"n": 0}
    orig = consumer.consume

    def consume(n: int, t: float) -> list[Message]:
        calls["n"] += 1
        if calls["n"] == 1:
            holder[0]._rebalanced(consumer, [TopicPartition("src", 0)])  # type: ignore[arg-type]
        if calls["n"] >= 3:
            stop.set()
        return orig(n, t)

    consumer.consume = consume  # type: ignore[method-assign]
    loop = SinkLoop(consumer_config={}, topics=["src"], handle_batch=lambda b: [], service="t",
                    stop=stop, dlq_producer=FakeDlq(),  # type: ignore[arg-type]
                    consumer=consumer)  # type: ignore[arg-type]
    holder.append(loop)
    loop.run()
    assert consumer.resumed == [[("src", 0)]]  # once, after the rebalance
