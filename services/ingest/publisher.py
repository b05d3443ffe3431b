"""Validate-then-produce for one batch, with per-item results.

Valid records are produced keyed by user_id (murmur2, idempotent, acks=all) and
reported ACCEPTED only once the broker acknowledged them; invalid ones go to
``<topic>.dlq`` with the reason and are reported INVALID. A request returns
after every one of its records has a delivery report (or the ack timeout).
"""

from __future__ import annotations

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
from mlmesh.kafka.serde import record_time_ms
from mlmesh.ratelimit import KeyedLimiter

log = logging.getLogger(__name__)

Validator = Callable[[Any, float], "str | None"]


@dataclass
class Item:
    """One record of a request: the decoded message (None when it could not be
    decoded), its id as sent, the original bytes (for the dead letter) and a
    decode error if any."""

    msg: Any
    record_id: str
    original: bytes
    error: str | None = None
    error_class: str = "validation"


class _Pending:
    def __init__(self, n: int) -> None:
        self.left = n
        self.lock = threading.Lock()
        self.done = threading.Event()
        if n == 0:
            self.done.set()

    def one_done(self) -> None:
        with self.lock:
            self.left -= 1
            if self.left == 0:
                self.done.set()


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
                timeout_s: float | None = None,
                stamp_ingest_time: bool = True) -> list[pb.PublishResult]:
        now_s = time.time()
        stamp = Timestamp()
        stamp.FromNanoseconds(time.time_ns())
        headers = inject([])
        results = [pb.PublishResult(id=item.record_id) for item in items]
        pending = _Pending(len(items))
        for i, item in enumerate(items):
            result = results[i]
            problem = item.error or validate(item.msg, now_s)
            if problem is not None:
                result.status = pb.PUBLISH_STATUS_INVALID
                result.error = problem
                self._dead_letter(topic, item, problem, pending)
                continue
            decision = self.limiter.take(item.msg.user_id)
            if not decision.allowed:
                result.status = pb.PUBLISH_STATUS_THROTTLED
                result.error = (f"user {item.msg.user_id} over its rate limit; retry after "
                                f"{decision.retry_after_s:.2f}s")
                pending.one_done()
                continue
            if stamp_ingest_time:
                item.msg.ingest_time.CopyFrom(stamp)
            self.producer.produce(topic, item.msg.SerializeToString(), key=item.msg.user_id,
                                  headers=headers, on_delivery=self._acked(result, pending),
                                  poll=False, timestamp=record_time_ms(item.msg))
        self.producer.poll(0)  # serve delivery reports once per batch
        wait = self.ack_timeout_s if timeout_s is None else min(timeout_s, self.ack_timeout_s)
        if not pending.done.wait(wait):
            self.producer.poll(0)
            for result in results:
                if result.status == pb.PUBLISH_STATUS_UNSPECIFIED:
                    result.status = pb.PUBLISH_STATUS_THROTTLED
                    result.error = "not acknowledged by Kafka in time; retry (idempotent by id)"
        self._count(results)
        return results

    def _acked(self, result: pb.PublishResult,
               pending: _Pending) -> Callable[[KafkaError | None, Message], None]:
        def cb(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                result.status = pb.PUBLISH_STATUS_ACCEPTED
                result.partition = msg.partition() or 0
                result.offset = msg.offset() or 0
            else:
                result.status = pb.PUBLISH_STATUS_THROTTLED
                result.error = f"kafka delivery failed: {err.str()}; retry"
            pending.one_done()

        return cb

    def _dead_letter(self, topic: str, item: Item, reason: str, pending: _Pending) -> None:
        key = item.msg.user_id if item.msg is not None and hasattr(item.msg, "user_id") else None
        record = dead_letter(original=item.original, key=key.encode() if key else None,
                             source_topic=topic, error_class=item.error_class, reason=reason,
                             service=self.service, record_id=item.record_id)

        def cb(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                log.error("dead letter not delivered", extra={"error": err.str()})
            pending.one_done()

        self.producer.produce(dlq_topic(topic), record.SerializeToString(), key=key,
                              on_delivery=cb)

    def _count(self, results: list[pb.PublishResult]) -> None:
        with self._lock:
            for r in results:
                if r.status == pb.PUBLISH_STATUS_ACCEPTED:
                    self.counts["accepted"] += 1
                elif r.status == pb.PUBLISH_STATUS_INVALID:
                    self.counts["invalid"] += 1
                else:
                    self.counts["throttled"] += 1




def summarize(results: list[pb.PublishResult]) -> tuple[int, int]:
    accepted = sum(1 for r in results if r.status == pb.PUBLISH_STATUS_ACCEPTED)
    return accepted, len(results) - accepted
