"""The workload driver of a chaos run.

* ``IngestSender``: the seeded workload through ingest's gRPC API in batches,
  riding out ingest crashes (UNAVAILABLE -> same batch again, which may
  duplicate what was already written) and resending some acknowledged batches
  on purpose (duplicate delivery at the client);
* ``replay``: re-produce a slice of a topic from an old offset (same ids);
* ``flush``: one event per partition at "now", closing every window;
* ``Prober``: Predict calls with fixed request ids, retried with the same id.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import document_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.tls import open_channel
from mlmesh.workload.generator import Record

log = logging.getLogger(__name__)
RETRY_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
               grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED,
               grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
FLUSH_USER = "zz-flush"


@dataclass
class SendStats:
    sent: Counter[str] = field(default_factory=Counter)
    accepted_ids: dict[str, set[str]] = field(default_factory=dict)  # kind -> ids
    rejected: Counter[str] = field(default_factory=Counter)
    retried_batches: int = 0
    resent_batches: int = 0
    gave_up: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"sent": dict(self.sent),
                "accepted": {k: len(v) for k, v in self.accepted_ids.items()},
                "rejected": dict(self.rejected), "retried_batches": self.retried_batches,
                "resent_batches": self.resent_batches, "gave_up": self.gave_up,
                "seconds": round(self.seconds, 1)}


class IngestSender:
    def __init__(self, address: str, seed: int, batch: int = 200, resend_p: float = 0.05,
                 give_up_s: float = 300.0) -> None:
        self.channel = open_channel(address, None, options=[  # one server, or replicas
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)])
        self.stub = pb_grpc.IngestServiceStub(self.channel)
        self.rng = random.Random(seed ^ 0x5EED)
        self.batch = batch
        self.resend_p = resend_p
        self.give_up_s = give_up_s
        self.stats = SendStats()
        self.stop = threading.Event()

    def _call(self, kind: str, msgs: list[Any]) -> Any:
        if kind == "user_event":
            return self.stub.Publish(pb.PublishRequest(events=msgs), timeout=30)
        if kind == "document":
            return self.stub.PublishDocuments(pb.PublishDocumentsRequest(documents=msgs),
                                              timeout=30)
        return self.stub.PublishLabels(pb.PublishLabelsRequest(labels=msgs), timeout=30)

    def _publish(self, kind: str, recs: list[Record]) -> None:
        """Until every record is ACCEPTED or INVALID; retries resend the whole rest."""
        todo = list(recs)
        deadline = time.monotonic() + self.give_up_s
        backoff = 0.2
        while todo and not self.stop.is_set():
            try:
                resp = self._call(kind, [r.msg for r in todo])
            except grpc.RpcError as exc:
                if exc.code() not in RETRY_CODES or time.monotonic() > deadline:
                    self.stats.gave_up += len(todo)
                    log.error("ingest call failed for good", extra={"code": str(exc.code())})
                    return
                self.stats.retried_batches += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            again = []
            for rec, res in zip(todo, resp.results, strict=True):
                if res.status == pb.PUBLISH_STATUS_ACCEPTED:
                    self.stats.accepted_ids.setdefault(kind, set()).add(res.id)
                elif res.status == pb.PUBLISH_STATUS_INVALID:
                    self.stats.rejected[res.error.split(":")[0]] += 1
                else:
                    again.append(rec)
            todo = again
            if todo:
                self.stats.retried_batches += 1
                time.sleep(backoff)

    def send(self, records: Sequence[Record], seconds: float) -> SendStats:
        """All of ``records`` paced over about ``seconds``."""
        t0 = time.monotonic()
        pending: dict[str, list[Record]] = {"user_event": [], "document": [], "label": []}
        per_record = seconds / max(1, len(records))
        in_batch = 0
        for i, rec in enumerate(records):
            if self.stop.is_set():
                break
            pending[rec.kind].append(rec)
            self.stats.sent[rec.kind] += 1
            in_batch += 1
            if in_batch >= self.batch:  # every kind together: documents keep pace
                for kind in pending:    # with events (no partition idles for long)
                    self._flush(kind, pending)
                in_batch = 0
            ahead = (i + 1) * per_record - (time.monotonic() - t0)
            if ahead > 0.05:
                time.sleep(ahead)
        for kind in pending:
            self._flush(kind, pending)
        self.stats.seconds = time.monotonic() - t0
        return self.stats

    def _flush(self, kind: str, pending: dict[str, list[Record]]) -> None:
        recs, pending[kind] = pending[kind], []
        if not recs:
            return
        self._publish(kind, recs)
        if self.rng.random() < self.resend_p:  # the client "did not see" the ack
            self.stats.resent_batches += 1
            self._publish(kind, recs)

    def close(self) -> None:
        self.channel.close()


def _producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "acks": "all", "partitioner": "murmur2_random", "log_level": 3})


def replay(bootstrap: str, topic: str, n: int, seed: int) -> int:
    """Re-produce ``n`` records of one partition of ``topic``, from an old offset,
    with their keys, values and original timestamps (the same ids again)."""
    rng = random.Random(seed)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-replay-{seed}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "log_level": 3})
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        highs = {p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                 for p in parts}
        filled = [p for p in parts if highs[p] > 0]
        if not filled:
            return 0
        part = rng.choice(filled)
        high = highs[part]
        start = rng.randrange(0, max(1, high - n // 2))
        consumer.assign([TopicPartition(topic, part, start)])
        batch: list[Any] = []
        deadline = time.monotonic() + 30
        while len(batch) < n and time.monotonic() < deadline:
            for m in consumer.consume(500, 0.5):
                err = m.error()
                if err is None:
                    batch.append(m)
                elif err.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(str(err))
            if batch and int(batch[-1].offset()) + 1 >= high:
                break
    finally:
        consumer.close()
    prod = _producer(bootstrap)
    for m in batch[:n]:
        prod.produce(topic, m.value(), key=m.key(), timestamp=m.timestamp()[1],
                     partition=m.partition())
    if prod.flush(60):
        raise RuntimeError(f"replay of {topic}: records not delivered")
    return min(n, len(batch))


def flush_marks(bootstrap: str, topics: Sequence[str] = ("user_events", "documents")) -> int:
    """One valid record per partition at "now" (user ``zz-flush``): every
    partition's watermark passes every window of the workload."""
    now = int(time.time() * 1000)
    ts = Timestamp()
    ts.FromMilliseconds(now)
    prod = _producer(bootstrap)
    sent = 0
    for topic in topics:
        parts = prod.list_topics(topic, timeout=10).topics[topic].partitions
        for p in parts:
            rid = f"flush-{topic}-{p}-{now}"
            if topic == "documents":
                value = document_pb2.Document(doc_id=rid, user_id=FLUSH_USER, text="flush",
                                              created_at=ts).SerializeToString()
            else:
                value = user_event_pb2.UserEvent(
                    event_id=rid, user_id=FLUSH_USER, event_time=ts,
                    action=user_event_pb2.ACTION_VIEW).SerializeToString()
            prod.produce(topic, value, key=FLUSH_USER.encode(), partition=p, timestamp=now)
            sent += 1
    if prod.flush(60):
        raise RuntimeError("flush marks not delivered")
    return sent


class Prober:
    """Predict for workload users, once a ``period``; each request id retried
    (same id) until answered or ``give_up_s``. Answered ids are recorded."""

    def __init__(self, address: str, users: Sequence[str], seed: int,
                 period: float = 1.0, give_up_s: float = 60.0) -> None:
        from mlmesh.inference.v1 import inference_service_pb2 as ipb
        from mlmesh.inference.v1 import inference_service_pb2_grpc as ipb_grpc

        self.ipb = ipb
        self.channel = open_channel(address, None)  # one server, or replicas
        self.stub = ipb_grpc.InferenceServiceStub(self.channel)
        self.users = list(users)
        self.rng = random.Random(seed ^ 0xBEEF)
        self.period = period
        self.give_up_s = give_up_s
        self.answered: set[str] = set()
        self.failed: Counter[str] = Counter()
        self.attempts = 0
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-prober", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(self.give_up_s + 5)
        self.channel.close()

    def _run(self) -> None:
        while not self.stop.wait(self.period):
            rid = f"chaos-{uuid.UUID(int=self.rng.getrandbits(128)).hex}"
            req = self.ipb.PredictRequest(user_id=self.rng.choice(self.users),
                                          text="where is my refund", request_id=rid)
            deadline = time.monotonic() + self.give_up_s
            while time.monotonic() < deadline:
                self.attempts += 1
                try:
                    self.stub.Predict(req, timeout=5)
                    self.answered.add(rid)
                    break
                except grpc.RpcError as exc:
                    if exc.code() not in RETRY_CODES:
                        self.failed[str(exc.code())] += 1
                        break
                    time.sleep(0.5)
            else:
                self.failed["gave up"] += 1
