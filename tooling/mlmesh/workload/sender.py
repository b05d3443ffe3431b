"""Send a workload through the ingest service (gRPC) or straight to Kafka."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.kafka.config import producer_config
from mlmesh.kafka.producer import MeshProducer
from mlmesh.kafka.serde import SerdeError, from_json, record_time_ms
from mlmesh.tls import ClientTls, open_channel
from mlmesh.workload.generator import TOPICS, Kind, Record

_CLASSES: dict[str, type[user_event_pb2.UserEvent | document_pb2.Document | label_pb2.Label]] = {
    "user_event": user_event_pb2.UserEvent, "document": document_pb2.Document,
    "label": label_pb2.Label,
}


@dataclass
class SendReport:
    sent: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    accepted_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        total = sum(self.sent.values())
        return {"sent": dict(self.sent), "accepted": dict(self.accepted),
                "rejected": dict(self.rejected), "errors": dict(self.errors.most_common(10)),
                "seconds": round(self.seconds, 3),
                "records_per_s": round(total / self.seconds, 1) if self.seconds else 0.0}


def read_file(path: Path) -> Iterator[Record]:
    """One JSON object per line (proto3 JSON mapping) with ``"type"``:
    ``user_event`` | ``document`` | ``label``."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                kind = obj.pop("type")
                cls = _CLASSES[kind]
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}:{n}: needs a JSON object with a valid \"type\" "
                                 f"(user_event, document or label): {exc}") from exc
            try:
                msg = from_json(cls, obj)
            except SerdeError as exc:
                raise ValueError(f"{path}:{n}: {exc.reason}") from exc
            yield Record(kind, msg, msg.user_id)


class Pacer:
    """Sleeps so that ``rate`` records/s are not exceeded (0 = no limit)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start = time.perf_counter()
        self.count = 0

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.rate <= 0:
            return
        ahead = self.count / self.rate - (time.perf_counter() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def send_direct(records: Iterable[Record], bootstrap: str, rate: float = 0,
                progress: Callable[[int], None] | None = None,
                topics: dict[Kind, str] | None = None) -> SendReport:
    producer = MeshProducer(producer_config(bootstrap, "mlmesh-produce"))
    report = SendReport()
    pacer = Pacer(rate)
    start = time.perf_counter()
    names = topics or TOPICS
    for rec in records:
        # the record timestamp is the event time: event-time consumers read it
        producer.produce(names[rec.kind], rec.msg.SerializeToString(), key=rec.key,
                         timestamp=record_time_ms(rec.msg))
        report.sent[rec.kind] += 1
        pacer.tick()
        if progress:
            progress(1)
    producer.flush(120)
    report.accepted = Counter(report.sent)
    report.seconds = time.perf_counter() - start
    return report


def send_via_ingest(records: Iterable[Record], address: str, rate: float = 0,
                    batch: int = 500, progress: Callable[[int], None] | None = None,
                    max_retries: int = 20,
                    metadata: list[tuple[str, str]] | None = None,
                    tls: ClientTls | None = None, linger_s: float = 0.1) -> SendReport:
    """Send through ingest's gRPC API; ``metadata`` carries the API key, ``tls``
    the TLS of the channel (plaintext without).

    Records go out in requests of up to ``batch`` of one kind; a kind's request
    also goes out once its oldest record has waited ``linger_s`` (a producer's
    ``linger.ms``): a rare kind (documents at 0.1% of the stream) would
    otherwise wait for ``batch`` of its own, or for the end of the stream."""
    md = metadata or None
    channel = open_channel(address, tls, options=[
        ("grpc.max_send_message_length", 64 * 1024 * 1024)])
    stub = pb_grpc.IngestServiceStub(channel)
    report = SendReport()
    pacer = Pacer(rate)
    pending: dict[str, list[Record]] = {"user_event": [], "document": [], "label": []}
    first: dict[str, float] = {}  # kind -> when its oldest pending record was taken
    start = time.perf_counter()

    def flush(kind: str) -> None:
        recs = pending[kind]
        if not recs:
            return
        msgs: list[Any] = [r.msg for r in recs]
        for attempt in range(max_retries):
            try:
                if kind == "user_event":
                    resp = stub.Publish(pb.PublishRequest(events=msgs), timeout=60,
                                        metadata=md)
                elif kind == "document":
                    resp = stub.PublishDocuments(pb.PublishDocumentsRequest(documents=msgs),
                                                 timeout=60, metadata=md)
                else:
                    resp = stub.PublishLabels(pb.PublishLabelsRequest(labels=msgs), timeout=60,
                                              metadata=md)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
                    time.sleep(min(0.2 * 2**attempt, 5.0))
                    continue
                raise
            retry = [r for r, res in zip(recs, resp.results, strict=True)
                     if res.status == pb.PUBLISH_STATUS_THROTTLED]
            for res in resp.results:
                if res.status == pb.PUBLISH_STATUS_ACCEPTED:
                    report.accepted[kind] += 1
                    report.accepted_ids.append(res.id)
                elif res.status == pb.PUBLISH_STATUS_INVALID:
                    report.rejected[kind] += 1
                    report.errors[res.error.split(":")[0]] += 1
            if not retry:
                break
            recs, msgs = retry, [r.msg for r in retry]
            time.sleep(min(0.2 * 2**attempt, 5.0))
        else:
            report.errors["gave up after retries"] += len(recs)
        report.sent[kind] += len(pending[kind])
        if progress:
            progress(len(pending[kind]))
        pending[kind] = []
        first.pop(kind, None)

    for rec in records:
        pending[rec.kind].append(rec)
        first.setdefault(rec.kind, time.perf_counter())
        pacer.tick()
        if len(pending[rec.kind]) >= batch:
            flush(rec.kind)
        now = time.perf_counter()
        for kind, since in list(first.items()):
            if now - since >= linger_s:
                flush(kind)
    for kind in pending:
        flush(kind)
    channel.close()
    report.seconds = time.perf_counter() - start
    return report
