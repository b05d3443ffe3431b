"""Validate-then-produce for one batch, with per-record outcomes.

Valid records are produced keyed by user_id (murmur2, idempotent, acks=all) and
reported ACCEPTED only once the broker acknowledged them; invalid ones go to
``<topic>.dlq`` with the reason and are reported INVALID. A batch returns
after every one of its records has a delivery report (or the ack timeout).

This is the hot path of the mesh's front door, written for it: one loop over
the records, locals only, no object per record but its delivery callback
(which is what lets each record be answered on its own; C where
``mlmesh._deliveries`` is built, as the first validation step of user events
is ``mlmesh._eventscan``), the batch's
ingest-time stamp appended to each encoded record as wire bytes instead of set
and re-encoded, delivery reports served once per batch (and by the service's
poller thread) instead of after every record.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message

from ingest.validation import Limits, Verdict
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.dlq import dead_letter, dlq_topic
from mlmesh.kafka.headers import inject
from mlmesh.kafka.producer import MeshProducer
from mlmesh.ratelimit import Limiter
from mlmesh.wire import timestamp_field

try:
    from mlmesh._deliveries import Deliveries as _Deliveries

    Deliveries: type[_Deliveries] | None = _Deliveries
except ImportError:  # not built (no C compiler): Outcome.ack does the same in Python
    Deliveries = None

log = logging.getLogger(__name__)

# (message, its encoding, now, limits) -> a problem or its timestamp
Validator = Callable[[Any, bytes, float, Limits], Verdict]

ACCEPTED, INVALID = pb.PUBLISH_STATUS_ACCEPTED, pb.PUBLISH_STATUS_INVALID
THROTTLED, PENDING = pb.PUBLISH_STATUS_THROTTLED, pb.PUBLISH_STATUS_UNSPECIFIED


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that could not even be decoded: its id as far as it is known,
    the reason, and the dead letter's error class."""

    record_id: str
    reason: str
    error_class: str


@dataclass(slots=True)
class Records:
    """One request's records as decoded. ``msgs[i]`` is None where record i
    could not be decoded (``failures[i]`` says why); ``original(i)`` gives its
    exact bytes as sent, for a dead letter (re-encoding a decoded message need
    not reproduce them: map order, unknown fields)."""

    msgs: Sequence[Any]
    original: Callable[[int], bytes]
    id_field: str
    failures: dict[int, Failure] = field(default_factory=dict)

    def record_id(self, i: int) -> str:
        msg = self.msgs[i]
        return self.failures[i].record_id if msg is None else str(getattr(msg, self.id_field))


class Outcome:
    """Per-record status, error, partition and offset of one batch.
    ``slot(i)`` is record i's delivery callback and ``settle()`` counts a record
    that needs no (more) report; ``done`` is set once every record is counted.
    With ``mlmesh._deliveries`` built both are C (no Python frame per record);
    else :meth:`ack` and a tally. Delivery reports are served by whichever
    thread polls the producer (possibly two at once): the C count runs under
    the GIL and ``itertools.count`` is atomic, so neither needs a lock."""

    __slots__ = ("_tally", "_total", "done", "errors", "offsets", "partitions", "settle",
                 "slot", "statuses")

    def __init__(self, n: int) -> None:
        self.statuses: list[pb.PublishStatus] = [PENDING] * n
        self.errors: list[str] = [""] * n
        self.partitions = [0] * n
        self.offsets = [0] * n
        self.done = threading.Event()
        if n == 0:
            self.done.set()
        self.slot: Callable[[int], Callable[[KafkaError | None, Message], None]]
        self.settle: Callable[[], None]
        if Deliveries is not None:
            native = Deliveries(self.statuses, self.errors, self.partitions, self.offsets,
                                self.done.set, ACCEPTED, THROTTLED)
            self.slot, self.settle = native.slot, native.settle
        else:
            self._tally = itertools.count(1)
            self._total = n
            self.slot = functools.partial(functools.partial, self.ack)
            self.settle = self._settle

    def _settle(self) -> None:
        if next(self._tally) == self._total:
            self.done.set()

    def ack(self, i: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.statuses[i] = ACCEPTED
            self.partitions[i] = msg.partition() or 0
            self.offsets[i] = msg.offset() or 0
        else:
            self.statuses[i] = THROTTLED
            self.errors[i] = f"kafka delivery failed: {err.str()}; retry"
        if next(self._tally) == self._total:  # (settle, inlined: once per record)
            self.done.set()

    def dead_letter_sent(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            log.error("dead letter not delivered", extra={"error": err.str()})
        self.settle()

    def expire(self) -> None:
        for i, status in enumerate(self.statuses):
            if status == PENDING:
                self.statuses[i] = THROTTLED
                self.errors[i] = "not acknowledged by Kafka in time; retry (idempotent by id)"

    @property
    def accepted(self) -> int:
        return self.statuses.count(ACCEPTED)


class Publisher:
    def __init__(self, producer: MeshProducer, service: str, limiter: Limiter,
                 ack_timeout_s: float) -> None:
        self.producer = producer
        self.service = service
        self.limiter = limiter
        self.ack_timeout_s = ack_timeout_s
        self.counts = {"accepted": 0, "invalid": 0, "throttled": 0}
        self._lock = threading.Lock()

    def publish(self, topic: str, records: Records, validate: Validator, limits: Limits,
                timeout_s: float | None = None, stamp_field: int | None = None) -> Outcome:
        """Validate, stamp, encode and produce every record; wait for their acks.
        ``validate`` gives a problem or the record's timestamp (epoch ms);
        ``stamp_field``: the number of the message's ingest-time field, if any."""
        return self.finish(self.start(topic, records, validate, limits, stamp_field), timeout_s)

    def start(self, topic: str, records: Records, validate: Validator, limits: Limits,
              stamp_field: int | None = None) -> Outcome:
        """Queue a batch without waiting for its acks (a caller pipelining several
        batches in one thread); :meth:`finish` waits for them."""
        now_s = time.time()
        stamp = timestamp_field(stamp_field, time.time_ns()) if stamp_field else b""
        headers: list[tuple[str, str | bytes | None]] | None = [
            (k, v) for k, v in inject([])] or None
        msgs = records.msgs
        out = Outcome(len(msgs))
        statuses, errors = out.statuses, out.errors
        # the rate limit is asked once per user per batch (for all the user's
        # records in it): one storage round trip per user, not per record
        allowance: dict[str, tuple[int, float]] | None = {} if self.limiter.enabled else None
        wanted = Counter(m.user_id for m in msgs if m is not None) \
            if allowance is not None else None
        produce, slot = self.producer.raw.produce, out.slot
        for i, msg in enumerate(msgs):
            if msg is not None:
                value = msg.SerializeToString()
                verdict: Verdict | Failure = validate(msg, value, now_s, limits)
            else:
                verdict = records.failures[i]
            if verdict.__class__ is not int:
                reason = verdict.reason if isinstance(verdict, Failure) else str(verdict)
                statuses[i] = INVALID
                errors[i] = reason
                self._dead_letter(topic, records, i, reason, out)
                continue
            key = msg.user_id
            if allowance is not None:
                left, retry_after = allowance.get(key) or \
                    self.limiter.grant(key, wanted[key])  # type: ignore[index]
                allowance[key] = (left - 1, retry_after)
                if left <= 0:
                    statuses[i] = THROTTLED
                    errors[i] = (f"user {key} over its rate limit; retry after "
                                 f"{retry_after:.2f}s")
                    out.settle()
                    continue
            if stamp:
                value += stamp
            try:
                produce(topic, value, key, on_delivery=slot(i), timestamp=verdict,
                        headers=headers)
            except BufferError:  # back-pressure: the producer waits for room
                self.producer.produce_reported(topic, value, key, headers, slot(i),
                                               int(verdict))
        self.producer.poll(0)
        return out

    def finish(self, out: Outcome, timeout_s: float | None = None) -> Outcome:
        """Serve delivery reports until every record of the batch has its own (any
        thread may serve any batch's: the service's poller thread does too), or
        the ack timeout: then the rest are answered as retryable."""
        wait = self.ack_timeout_s if timeout_s is None else min(timeout_s, self.ack_timeout_s)
        deadline = time.monotonic() + wait
        poll, done = self.producer.poll, out.done
        while not done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                out.expire()
                break
            poll(min(left, 0.005))
        self._count(out.statuses)
        return out

    def _dead_letter(self, topic: str, records: Records, i: int, reason: str,
                     out: Outcome) -> None:
        msg = records.msgs[i]
        failure = records.failures.get(i)
        key = msg.user_id if msg is not None and hasattr(msg, "user_id") else None
        record = dead_letter(original=records.original(i), key=key.encode() if key else None,
                             source_topic=topic,
                             error_class=failure.error_class if failure else "validation",
                             reason=reason, service=self.service,
                             record_id=records.record_id(i))
        self.producer.produce_reported(dlq_topic(topic), record.SerializeToString(), key, None,
                                       out.dead_letter_sent)

    def _count(self, statuses: list[pb.PublishStatus]) -> None:
        accepted = statuses.count(ACCEPTED)
        invalid = statuses.count(INVALID)
        with self._lock:
            self.counts["accepted"] += accepted
            self.counts["invalid"] += invalid
            self.counts["throttled"] += len(statuses) - accepted - invalid

