"""The exactly-once consume-transform-produce loop.

Follows confluent-kafka's documented transactional pattern: one transaction per
consumed batch holding the outputs, the dead letters and the input offsets
(``send_offsets_to_transaction``), so a batch is either fully visible to
``read_committed`` readers with its offsets committed, or not at all.

Error policy on every transactional call (KafkaError flags):
- ``retriable()``           -> retry the same call with backoff, bounded (``Retry``:
                               attempts, a deadline, a stop check); past the bound
                               it is raised like a fatal error;
- ``txn_requires_abort()``  -> abort, rewind the consumer to the batch start, redo;
- anything else (fatal)     -> raise: the process exits and is restarted, and the
                               new instance fences the old one by transactional.id.
Shutdown while a call is retried (RetryStopped) ends the loop with the batch
uncommitted: the open transaction is aborted by the broker or fenced by the
next instance, and the batch is read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.retry import Retry, RetryStopped
from mlmesh.kafka.batch import next_offsets, usable
from mlmesh.kafka.dlq import coords, dead_letter_for, headers_of
from mlmesh.kafka.serde import SerdeError

log = logging.getLogger(__name__)
TXN_RETRY = Retry(attempts=50, deadline_s=60.0, backoff_s=0.2, max_backoff_s=2.0)
QUEUE_RETRY = Retry(attempts=1_000_000, deadline_s=60.0, backoff_s=0.05, max_backoff_s=0.5)


def _retriable(exc: Exception) -> bool:
    return isinstance(exc, KafkaException) and bool(exc.args[0].retriable())


@dataclass
class Output:
    topic: str
    value: bytes
    key: str | bytes | None = None
    headers: list[tuple[str, bytes]] | None = field(default=None)


Transform = Callable[[Message], Iterable[Output]]


@dataclass
class LoopStats:
    consumed: int = 0
    produced: int = 0
    dead_lettered: int = 0
    committed_batches: int = 0
    aborted_batches: int = 0


class TransactionalLoop:
    def __init__(self, *, consumer_config: dict[str, Any], producer_config: dict[str, Any],
                 topics: list[str], transform: Transform, service: str, stop: StopSignal,
                 batch_size: int = 500, poll_timeout: float = 0.5,
                 consumer: Consumer | None = None, producer: Producer | None = None,
                 on_batch: Callable[[LoopStats], None] | None = None) -> None:
        if "transactional.id" not in producer_config and producer is None:
            raise ValueError("the exactly-once loop needs a transactional.id")
        self.topics = topics
        self.transform = transform
        self.service = service
        self.stop = stop
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.consumer = consumer if consumer is not None else Consumer(consumer_config)
        self.producer = producer if producer is not None else Producer(producer_config)
        self.stats = LoopStats()
        self.on_batch = on_batch

    def run(self) -> LoopStats:
        self.producer.init_transactions(30)
        self.consumer.subscribe(self.topics)
        log.info("exactly-once loop started", extra={"topics": ",".join(self.topics)})
        try:
            while not self.stop.is_set():
                msgs = self.consumer.consume(self.batch_size, self.poll_timeout)
                batch = [m for m in msgs if usable(m)]
                if batch:
                    self._process(batch)
        except RetryStopped as exc:
            log.info("stopped while retrying; the batch stays uncommitted",
                     extra={"error": str(exc)})
        finally:
            self._close()
        return self.stats

    def _process(self, batch: list[Message]) -> None:
        starts: dict[tuple[str, int], int] = {}
        for msg in batch:
            topic, partition, offset = coords(msg)
            starts.setdefault((topic, partition), offset)
        self.producer.begin_transaction()
        produced = dead = 0
        try:
            for msg in batch:
                p, d = self._handle(msg)
                produced += p
                dead += d
            if self._commit(next_offsets(batch)):
                self.stats.consumed += len(batch)
                self.stats.produced += produced
                self.stats.dead_lettered += dead
                self.stats.committed_batches += 1
                if self.on_batch is not None:
                    self.on_batch(self.stats)
                return
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if not err.txn_requires_abort():
                raise
            self._abort()
        # Aborted: rewind to the batch start; the next consume() re-reads it (the
        # assignment may have changed in between, so the batch is not reused).
        self._rewind(starts)

    def _handle(self, msg: Message) -> tuple[int, int]:
        try:
            outputs = list(self.transform(msg))
        except SerdeError as exc:
            self._dead_letter(msg, exc.error_class, exc.reason)
            return 0, 1
        except Exception as exc:
            log.exception("transform failed; dead-lettering the record")
            self._dead_letter(msg, "processing", f"{type(exc).__name__}: {exc}")
            return 0, 1
        for out in outputs:
            self._produce(out.topic, out.value, out.key, out.headers)
        return len(outputs), 0

    def _dead_letter(self, msg: Message, error_class: str, reason: str) -> None:
        topic, value = dead_letter_for(msg, error_class=error_class, reason=reason,
                                       service=self.service)
        self._produce(topic, value, msg.key(), headers_of(msg))

    def _produce(self, topic: str, value: bytes, key: str | bytes | None,
                 headers: list[tuple[str, bytes]] | None) -> None:
        QUEUE_RETRY.call(
            lambda: self.producer.produce(topic, value, key=key,
                                          headers=headers),  # type: ignore[arg-type]
            lambda exc: isinstance(exc, BufferError), "produce (local queue full)",
            stop=self.stop.is_set, sleep=lambda s: self.producer.poll(s))
        self.producer.poll(0)

    def _commit(self, offsets: list[TopicPartition]) -> bool:
        """True when committed; False when the transaction had to be aborted."""
        group = self.consumer.consumer_group_metadata()
        step = "send offsets"
        try:
            TXN_RETRY.call(lambda: self.producer.send_offsets_to_transaction(offsets, group, 30),
                           _retriable, step, stop=self.stop.is_set)
            step = "commit transaction"
            TXN_RETRY.call(lambda: self.producer.commit_transaction(30), _retriable, step,
                           stop=self.stop.is_set)
            return True
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.txn_requires_abort():
                log.warning("transaction aborted", extra={"step": step, "error": str(err)})
                self._abort()
                return False
            log.error("fatal transaction error", extra={"step": step, "error": str(err)})
            raise

    def _abort(self) -> None:
        self.stats.aborted_batches += 1
        TXN_RETRY.call(lambda: self.producer.abort_transaction(30), _retriable,
                       "abort transaction")

    def _rewind(self, starts: dict[tuple[str, int], int]) -> None:
        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        for (topic, partition), offset in starts.items():
            if (topic, partition) in owned:
                self.consumer.seek(TopicPartition(topic, partition, offset))

    def _close(self) -> None:
        try:
            self.consumer.close()
        finally:
            self.producer.flush(10)
        log.info("exactly-once loop stopped", extra={"consumed": self.stats.consumed,
                                                     "aborted": self.stats.aborted_batches})
