"""The at-least-once + idempotent-write loop, for hops that write to a store.

A batch is read (read_committed), handed to ``handle_batch`` which writes it to
the store idempotently (keyed by event/chunk id), then the offsets are committed
synchronously. A crash between write and commit replays the batch, and the
idempotent write makes the replay a no-op: exactly-once in effect.

When the store is unavailable ``handle_batch`` raises; the loop pauses the
assignment (staying in the group), backs off exponentially and retries the
same batch: nothing is skipped. Records the handler rejects go to
``<topic>.dlq`` (flushed) before the offsets that cover them are committed.

Poison batches: when a batch has failed ``attempts`` times while ``probe()``
says the store answers, the failure is the data's, not the store's: the batch
is split in halves, each retried the same way, until the records the store
rejects are alone; each is dead-lettered (``store_rejected``, with the store's
error) and the others are written. A lone record counts as poison only once
other records of its batch were written meanwhile, or after
``POISON_ATTEMPTS`` tries: a store that answers its probe but takes no writes
(overloaded) does not send good records to the dead-letter topic. Without a
probe, or while it says the store is down, nothing is dead-lettered for a
store error. A batch that cannot be
written for ``max_stall_s`` raises ``RetriesExhausted`` (the process exits and
is restarted; nothing was committed). Shutdown ends any wait at once, with the
batch uncommitted.

``on_rebalance`` is called whenever partitions are assigned, revoked or
lost (between batches, inside ``consume``): a handler that remembers what it
wrote for the partitions it owns (a cache of the store) must forget it then.

A rebalance during a pause: a partition assigned then is not paused, so the
pause's poll can return one of its records; the loop seeks the partition back
to that record (and pauses it) instead of dropping it. A partition paused,
then lost and assigned again keeps librdkafka's pause flag under
cooperative-sticky assignment: after any rebalance the loop resumes its whole
assignment before reading on (a chaos run found a partition left paused for
good after a coordinator failover: its consumer group never caught up).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.retry import RetriesExhausted, Retry, RetryStopped
from mlmesh.kafka.batch import next_offsets, usable
from mlmesh.kafka.dlq import dead_letter_for, headers_of
from mlmesh.kafka.producer import MeshProducer

log = logging.getLogger(__name__)
_COMMIT_RETRY = Retry(attempts=50, deadline_s=30.0, backoff_s=0.2, max_backoff_s=2.0)
POISON_ATTEMPTS = 30  # tries of a lone record before it is poison with no sibling written


@dataclass
class Rejected:
    """A record the handler could not accept, and why."""

    msg: Message
    error_class: str
    reason: str
    record_id: str = ""


@dataclass
class _Isolation:
    """One batch's write, across the halves it may be split into."""

    since: float          # when the batch was first tried (the stall limit counts from it)
    written: int = 0      # sub-batches the store accepted meanwhile


@dataclass
class SinkStats:
    consumed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str = ""
    paused: bool = False
    history: list[int] = field(default_factory=list)


BatchHandler = Callable[[list[Message]], list[Rejected]]


class SinkLoop:
    def __init__(self, *, consumer_config: dict[str, Any], topics: list[str],
                 handle_batch: BatchHandler, service: str, stop: StopSignal,
                 dlq_producer: MeshProducer, batch_size: int = 500, poll_timeout: float = 0.2,
                 max_backoff: float = 10.0, consumer: Consumer | None = None,
                 on_rebalance: Callable[[], None] | None = None,
                 probe: Callable[[], bool] | None = None, attempts: int = 3,
                 max_stall_s: float = 900.0, commit_retry: Retry | None = None) -> None:
        self.topics = topics
        self.handle_batch = handle_batch
        self.service = service
        self.stop = stop
        self.dlq = dlq_producer
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.max_backoff = max_backoff
        self.consumer = consumer if consumer is not None else Consumer(consumer_config)
        self.on_rebalance = on_rebalance
        self.probe = probe
        self.attempts = max(1, attempts)
        self.max_stall_s = max_stall_s
        self.commit_retry = commit_retry or _COMMIT_RETRY
        self.stats = SinkStats()
        self._reassigned = False  # a rebalance since the last resume

    def run(self) -> SinkStats:
        self.consumer.subscribe(self.topics, on_assign=self._rebalanced,
                                on_revoke=self._rebalanced, on_lost=self._rebalanced)
        log.info("sink loop started", extra={"topics": ",".join(self.topics)})
        try:
            while not self.stop.is_set():
                if self._reassigned:
                    self._resume_all()
                msgs = self.consumer.consume(self.batch_size, self.poll_timeout)
                batch = [m for m in msgs if usable(m)]
                if batch and not self._process(batch):
                    break  # stopped while retrying: nothing committed, nothing lost
        finally:
            self._close()
        return self.stats

    def _rebalanced(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions rebalanced", extra={"partitions": len(partitions)})
        self._reassigned = True
        if self.on_rebalance is not None:
            self.on_rebalance()

    def _process(self, batch: list[Message]) -> bool:
        rejected = self._write(batch, _Isolation(time.monotonic()))
        if rejected is None:
            return False
        for item in rejected:
            topic, value = dead_letter_for(item.msg, error_class=item.error_class,
                                           reason=item.reason, service=self.service,
                                           record_id=item.record_id)
            key = item.msg.key()
            self.dlq.produce(topic, value, key if isinstance(key, bytes | str) else None,
                             headers_of(item.msg))
        if rejected:
            self.dlq.flush(30)
        self._commit(batch)
        self.stats.consumed += len(batch)
        self.stats.dead_lettered += len(rejected)
        self.stats.batches += 1
        return True

    def _store_up(self) -> bool:
        try:
            return self.probe is not None and bool(self.probe())
        except Exception:  # a probe that fails says the store is down
            return False

    def _write(self, batch: list[Message], iso: _Isolation) -> list[Rejected] | None:
        """The handler's rejections for ``batch``, isolating records the store
        itself refuses (see the module doc); None when stopped meanwhile."""
        backoff = 0.2
        failures = 0
        while True:
            try:
                rejected = self.handle_batch(batch)
                iso.written += 1
                return rejected
            except Exception as exc:
                failures += 1
                self.stats.retries += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            # a lone record is poison once others of its batch went in meanwhile
            # (the store takes writes), or after POISON_ATTEMPTS tries on its own
            lone_poison = len(batch) == 1 and (
                iso.written > 0 or failures >= max(self.attempts, POISON_ATTEMPTS))
            if failures >= self.attempts and (len(batch) > 1 or lone_poison) \
                    and self._store_up():
                if len(batch) == 1:
                    log.warning("record rejected by the store; dead-lettering it",
                                extra={"error": self.stats.last_error})
                    return [Rejected(batch[0], "store_rejected", self.stats.last_error[:1000])]
                mid = len(batch) // 2
                left = self._write(batch[:mid], iso)
                right = self._write(batch[mid:], iso) if left is not None else None
                return None if left is None or right is None else left + right
            stalled = time.monotonic() - iso.since
            if stalled >= self.max_stall_s:
                raise RetriesExhausted(f"{self.service}: a batch of {len(batch)} could not be "
                                       f"written for {stalled:.0f} s: {self.stats.last_error}")
            log.warning("batch write failed; pausing and retrying",
                        extra={"error": self.stats.last_error, "backoff_s": backoff,
                               "records": len(batch)})
            if not self._pause_for(backoff):
                return None
            backoff = min(backoff * 2, self.max_backoff)

    def _pause_for(self, seconds: float) -> bool:
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.pause(assignment)
        self.stats.paused = True
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if self.stop.is_set():
                    return False
                # keeps group membership; paused partitions return no records
                msg = self.consumer.poll(0.05)
                if msg is not None and usable(msg):  # of a partition assigned meanwhile
                    tp = TopicPartition(str(msg.topic()), int(msg.partition() or 0),
                                        int(msg.offset() or 0))
                    self.consumer.seek(tp)  # read again after the pause, not dropped
                    self.consumer.pause([tp])
        finally:
            self._resume_all()
            self.stats.paused = False
        return True

    def _resume_all(self) -> None:
        self._reassigned = False
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.resume(assignment)

    def _commit(self, batch: list[Message]) -> None:
        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        offsets = next_offsets(batch, owned)
        if not offsets:
            return  # revoked meanwhile: the new owner replays; writes are idempotent

        def retriable(exc: Exception) -> bool:
            return isinstance(exc, KafkaException) and bool(exc.args[0].retriable())

        try:
            self.commit_retry.call(
                lambda: self.consumer.commit(offsets=offsets, asynchronous=False),
                retriable, "offset commit", stop=self.stop.is_set)
        except (KafkaException, RetriesExhausted, RetryStopped) as exc:
            # e.g. rebalance in progress / unknown member, or the broker away past
            # the bound: the batch is replayed by the next owner (or this one after
            # a restart); idempotent writes make that safe
            log.warning("offset commit failed", extra={"error": str(exc)})

    def _close(self) -> None:
        try:
            self.dlq.flush(30)
        finally:
            self.consumer.close()
        log.info("sink loop stopped", extra={"consumed": self.stats.consumed})
