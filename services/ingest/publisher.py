"""Validate-then-produce for one batch, with per-item results.

Valid records are produced keyed by user_id (murmur2, idempotent, acks=all) and
reported ACCEPTED only once the broker acknowledged them; invalid ones go to
``<topic>.dlq`` with the reason and are reported INVALID. A request returns
after every one of its records has a delivery report (or the ack timeout).
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.dlq import dead_letter, dlq_topic
from mlmesh.kafka.headers import inject
from mlmesh.kafka.producer import MeshProducer
from mlmesh.ratelimit import KeyedLimiter
from mlmesh.wire import LazySplit

log = logging.getLogger(__name__)

Validator = Callable[[Any, float], "str | None"]


@dataclass(slots=True)
class Item:
    """One record of a request: the decoded message (None when it could not be
    decoded), its id as sent, the original bytes (for the dead letter; when the
    whole request decoded at once they are split from it only if needed:
    ``wire[index]``) and a decode error if any."""

    msg: Any
    record_id: str
    original: bytes | None
    error: str | None = None
    error_class: str = "validation"
    wire: LazySplit | None = None
    index: int = 0

    def original_bytes(self) -> bytes:
        if self.original is not None:
            return self.original
        assert self.wire is not None, "an item carries its bytes or its request's"
        return self.wire[self.index]


class _Batch:
    """Delivery reports of one request. Reports are served by whichever thread
    polls the producer (possibly two at once): ``itertools.count`` keeps the
    tally atomic without a lock per record."""

    __slots__ = ("_tally", "_total", "done", "errors", "offsets", "partitions", "statuses")

    def __init__(self, n: int) -> None:
        self.statuses: list[pb.PublishStatus] = [pb.PUBLISH_STATUS_UNSPECIFIED] * n
        self.errors: list[str] = [""] * n
        self.partitions = [0] * n
        self.offsets = [0] * n
        self.done = threading.Event()
        self._tally = itertools.count(1)
        self._total = n
        if n == 0:
            self.done.set()

    def settle(self) -> None:
        """One record needs no (more) report."""
        if next(self._tally) == self._total:
            self.done.set()

    def ack(self, i: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.statuses[i] = pb.PUBLISH_STATUS_ACCEPTED
            self.partitions[i] = msg.partition() or 0
            self.offsets[i] = msg.offset() or 0
        else:
            self.statuses[i] = pb.PUBLISH_STATUS_THROTTLED
            self.errors[i] = f"kafka delivery failed: {err.str()}; retry"
        self.settle()

    def dead_letter_sent(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            log.error("dead letter not delivered", extra={"error": err.str()})
        self.settle()


class Publisher:
    def __init__(self, producer: MeshProducer, service: str, limiter: KeyedLimiter,
                 ack_timeout_s: float) -> None:
        self.producer = producer
        self.service = service
        self.limiter = limiter
        self.ack_timeout_s = ack_timeout_s
        self.counts = {"accepted": 0, "invalid": 0, "throttled": 0}
        self._lock = threading.Lock()

    def publish(self, topic: str, items: Sequence[Item], validate: Validator,
                timeout_s: float | None = None, stamp_ingest_time: bool = True,
                time_field: str | None = None) -> list[pb.PublishResult]:
        """The hot path of ingest (one call per request, a loop per record):
        locals only, one bound callback per record, results built once at the end.
        ``time_field``: the message's own time (the Kafka record timestamp)."""
        now_s = time.time()
        stamp = Timestamp()
        stamp.FromNanoseconds(time.time_ns())
        headers = inject([])
        batch = _Batch(len(items))
        statuses, errors = batch.statuses, batch.errors
        take = self.limiter.take if self.limiter.enabled else None
        produce = self.producer.produce_reported
        ack = batch.ack
        for i, item in enumerate(items):
            msg = item.msg
            problem = item.error or validate(msg, now_s)
            if problem is not None:
                statuses[i] = pb.PUBLISH_STATUS_INVALID
                errors[i] = problem
                self._dead_letter(topic, item, problem, batch)
                continue
            if take is not None:
                decision = take(msg.user_id)
                if not decision.allowed:
                    statuses[i] = pb.PUBLISH_STATUS_THROTTLED
                    errors[i] = (f"user {msg.user_id} over its rate limit; retry after "
                                 f"{decision.retry_after_s:.2f}s")
                    batch.settle()
                    continue
            if stamp_ingest_time:
                msg.ingest_time.CopyFrom(stamp)
            ts_ms = None
            if time_field is not None:
                ts = getattr(msg, time_field)
                ts_ms = ts.seconds * 1000 + ts.nanos // 1_000_000
            produce(topic, msg.SerializeToString(), msg.user_id, headers,
                    functools.partial(ack, i), ts_ms)
        self.producer.poll(0)  # serve delivery reports once per batch
        wait = self.ack_timeout_s if timeout_s is None else min(timeout_s, self.ack_timeout_s)
        if not batch.done.wait(wait):
            self.producer.poll(0)
            for i, status in enumerate(statuses):
                if status == pb.PUBLISH_STATUS_UNSPECIFIED:
                    statuses[i] = pb.PUBLISH_STATUS_THROTTLED
                    errors[i] = "not acknowledged by Kafka in time; retry (idempotent by id)"
        result = pb.PublishResult
        rows = zip(items, statuses, errors, batch.partitions, batch.offsets, strict=True)
        results = [result(id=item.record_id, status=st, error=err, partition=part, offset=off)
                   for item, st, err, part, off in rows]
        self._count(statuses)
        return results

    def _dead_letter(self, topic: str, item: Item, reason: str, batch: _Batch) -> None:
        msg = item.msg
        key = msg.user_id if msg is not None and hasattr(msg, "user_id") else None
        record = dead_letter(original=item.original_bytes(), key=key.encode() if key else None,
                             source_topic=topic, error_class=item.error_class, reason=reason,
                             service=self.service, record_id=item.record_id)
        self.producer.produce_reported(dlq_topic(topic), record.SerializeToString(), key, None,
                                       batch.dead_letter_sent, None)

    def _count(self, statuses: list[pb.PublishStatus]) -> None:
        accepted = statuses.count(pb.PUBLISH_STATUS_ACCEPTED)
        invalid = statuses.count(pb.PUBLISH_STATUS_INVALID)
        with self._lock:
            self.counts["accepted"] += accepted
            self.counts["invalid"] += invalid
            self.counts["throttled"] += len(statuses) - accepted - invalid


def summarize(results: list[pb.PublishResult]) -> tuple[int, int]:
    accepted = sum(1 for r in results if r.status == pb.PUBLISH_STATUS_ACCEPTED)
    return accepted, len(results) - accepted
