"""Send bad input through every door and say how each one ended.

Doors: ingest gRPC (``Publish``/``PublishDocuments``/``PublishLabels``, raw
request bytes so malformed items reach the server as sent), ingest HTTP (raw
bodies), each topic directly (raw record values), inference ``Predict``.
Outcomes: ``invalid`` (a per-item INVALID with its reason), ``rejected`` (a
clear non-OK status / 4xx with a message), ``accepted`` (the input happened to
be valid), ``dead_letter`` (the consuming service wrote ``<topic>.dlq``), or a
defect: ``crash``, ``stall``, ``unclear`` (UNKNOWN status, 5xx, empty reason),
``lost`` (neither processed nor dead-lettered), ``no-answer`` (connection
dropped without a response), ``good-lost`` (a good item beside it not accepted).
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from confluent_kafka import Producer

from mlmesh.chaos.corpus import Case, good_document, good_event
from mlmesh.chaos.corpus import field as wire_field
from mlmesh.chaos.topics import read_topic
from mlmesh.events.v1 import dead_letter_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb

DEFECTS = ("crash", "no-answer", "stall", "unclear", "lost", "good-lost")
METHODS = {"user_event": ("Publish", pb.PublishResponse),
           "document": ("PublishDocuments", pb.PublishDocumentsResponse),
           "label": ("PublishLabels", pb.PublishLabelsResponse)}


@dataclass
class Outcomes:
    by_door: dict[str, Counter[str]] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)

    def add(self, door: str, outcome: str, what: str = "") -> None:
        self.by_door.setdefault(door, Counter())[outcome] += 1
        if outcome in DEFECTS:
            self.defects.append(f"{door}: {outcome}: {what}"[:400])

    @property
    def tried(self) -> int:
        return sum(sum(c.values()) for c in self.by_door.values())

    def to_dict(self) -> dict[str, object]:
        return {"tried": self.tried, "by_door": {k: dict(v) for k, v in self.by_door.items()},
                "defects": self.defects[:50]}


def raw_request(items: Sequence[bytes]) -> bytes:
    """A Publish*Request holding ``items`` as its repeated field 1, unparsed."""
    return b"".join(wire_field(1, 2, it) for it in items)


class IngestDoor:
    """Bad items between good ones, through ingest's gRPC and HTTP APIs."""

    def __init__(self, grpc_address: str, http_address: str) -> None:
        self.channel = grpc.insecure_channel(grpc_address)
        self.http_address = http_address
        self.good_ids: list[str] = []
        self.invalid: list[tuple[str, bytes]] = []  # (kind, item bytes) answered INVALID
        self._seq = 0

    def close(self) -> None:
        self.channel.close()

    def _good(self, kind: str) -> bytes:
        self._seq += 1
        tag = f"{int(time.time() * 1000)}-{self._seq}"
        if kind == "document":
            return good_document(tag).SerializeToString()
        if kind == "user_event":
            self.good_ids.append(f"good-{tag}")
            return good_event(tag).SerializeToString()
        from mlmesh.chaos.corpus import ts
        from mlmesh.events.v1 import label_pb2

        now = int(time.time() * 1000)
        return label_pb2.Label(label_id=f"glab-{tag}", user_id="fuzz-good",
                               kind=label_pb2.LABEL_KIND_FRAUD, value=0.0,
                               label_time=ts(now - 2000)).SerializeToString()

    def grpc_item(self, kind: str, case: Case, out: Outcomes) -> str:
        """[good, bad, good] in one call; returns the bad item's outcome."""
        name, bad = case
        method, resp_cls = METHODS[kind]
        call = self.channel.unary_unary(
            f"/mlmesh.ingest.v1.IngestService/{method}",
            request_serializer=lambda b: b, response_deserializer=resp_cls.FromString)
        door = f"ingest-grpc:{method}"
        try:
            resp = call(raw_request([self._good(kind), bad, self._good(kind)]), timeout=20)
        except grpc.RpcError as exc:
            outcome = self._status(exc)
            out.add(door, outcome, f"{name}: {exc.code()} {exc.details()}")
            return outcome
        statuses = [r.status for r in resp.results]
        if len(statuses) != 3 or statuses[0] != pb.PUBLISH_STATUS_ACCEPTED \
                or statuses[2] != pb.PUBLISH_STATUS_ACCEPTED:
            out.add(door, "good-lost", f"{name}: results {list(resp.results)}")
            return "good-lost"
        mid = resp.results[1]
        if mid.status == pb.PUBLISH_STATUS_INVALID:
            outcome = "invalid" if mid.error else "unclear"
            self.invalid.append((kind, bad))
        elif mid.status == pb.PUBLISH_STATUS_ACCEPTED:
            outcome = "accepted"
        else:
            outcome = "unclear"
        out.add(door, outcome, f"{name}: {mid.error!r}")
        return outcome

    def grpc_whole_request(self, name: str, body: bytes, out: Outcomes) -> str:
        call = self.channel.unary_unary("/mlmesh.ingest.v1.IngestService/Publish",
                                        request_serializer=lambda b: b,
                                        response_deserializer=pb.PublishResponse.FromString)
        try:
            resp = call(body, timeout=20)
        except grpc.RpcError as exc:
            outcome = self._status(exc)
            out.add("ingest-grpc:request", outcome, f"{name}: {exc.code()} {exc.details()}")
            return outcome
        ok = all(r.status in (pb.PUBLISH_STATUS_INVALID, pb.PUBLISH_STATUS_ACCEPTED)
                 for r in resp.results)
        outcome = "invalid" if ok else "unclear"
        out.add("ingest-grpc:request", outcome, name)
        return outcome

    @staticmethod
    def _status(exc: grpc.RpcError) -> str:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "stall"
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            return "crash"
        if exc.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL) \
                or not exc.details():
            return "unclear"
        return "rejected"

    def http(self, path: str, body: bytes, name: str, out: Outcomes,
             headers: dict[str, str] | None = None) -> str:
        host, _, port = self.http_address.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        door = f"ingest-http:{path}"
        try:
            conn.request("POST", path, body=body,
                         headers={"Content-Type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            status, data = resp.status, resp.read()
        except TimeoutError:
            out.add(door, "stall", name)
            return "stall"
        except (ConnectionError, http.client.HTTPException) as exc:
            out.add(door, "no-answer", f"{name}: {exc!r}")
            return "no-answer"
        finally:
            conn.close()
        try:
            msg = json.loads(data)
        except ValueError:
            msg = {}
        if status >= 500 or not isinstance(msg, dict):
            outcome = "unclear"
        elif status == 200:
            outcome = "accepted"
        elif status in (207, 422):
            errs = [r.get("error") for r in msg.get("results", [])
                    if r.get("status") == "PUBLISH_STATUS_INVALID"]
            outcome = "invalid" if errs and all(errs) else "unclear"
        else:
            outcome = "rejected" if msg.get("error") else "unclear"
        out.add(door, outcome, f"{name}: HTTP {status} {data[:200]!r}")
        return outcome


def produce_raw(bootstrap: str, topic: str, cases: Sequence[Case],
                ) -> dict[tuple[int, int], str]:
    """Each case as a record value on ``topic``; (partition, offset) -> name."""
    prod = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "log_level": 3, "message.max.bytes": 2_000_000})
    where: dict[tuple[int, int], str] = {}

    def cb(name: str):  # type: ignore[no-untyped-def]
        def done(err, msg) -> None:  # type: ignore[no-untyped-def]
            if err is None:
                where[(int(msg.partition()), int(msg.offset()))] = name
        return done

    for name, value in cases:
        prod.produce(topic, value, key=b"fuzz-bad", on_delivery=cb(name))
        prod.poll(0)
    prod.flush(60)
    return where


def dead_lettered(bootstrap: str, topic: str) -> dict[tuple[int, int], list[str]]:
    """(source partition, offset) -> "service: error_class: reason" of ``topic.dlq``."""
    out: dict[tuple[int, int], list[str]] = {}
    for r in read_topic(bootstrap, f"{topic}.dlq"):
        d = dead_letter_pb2.DeadLetter.FromString(r.value or b"")
        if d.source_topic == topic:
            out.setdefault((d.source_partition, d.source_offset), []).append(
                f"{d.service}: {d.error_class}: {d.reason}")
    return out


def check_topic(bootstrap: str, topic: str, where: dict[tuple[int, int], str],
                consumers: Sequence[str], out: Outcomes) -> None:
    """Every bad record on ``topic`` dead-lettered (with a reason) by each of its
    running ``consumers`` (DeadLetter.service names)."""
    dlq = dead_lettered(bootstrap, topic)
    if not consumers:  # only observers read it (the monitor counts, writes no DLQ)
        for _pos, name in sorted(where.items()):
            out.add(f"topic:{topic}", "observed-only", name)
        return
    for pos, name in sorted(where.items()):
        got = dlq.get(pos, [])
        services = {g.split(":", 1)[0] for g in got}
        missing = [c for c in consumers if c not in services]
        if missing:
            out.add(f"topic:{topic}", "lost", f"{name} at {pos}: no dead letter from {missing}")
        elif any(not g.rsplit(":", 1)[-1].strip() for g in got):
            out.add(f"topic:{topic}", "unclear", f"{name}: empty reason")
        else:
            out.add(f"topic:{topic}", "dead_letter", name)


def inference_cases() -> list[Case]:
    """Predict requests (raw bytes) an attacker or a broken client could send."""
    from mlmesh.inference.v1 import inference_service_pb2 as ipb

    def req(**kw: Any) -> bytes:
        return bytes(ipb.PredictRequest(**kw).SerializeToString())

    cases: list[Case] = [
        ("empty-request", b""),
        ("missing-user", req(text="hello")),
        ("hostile-user", req(user_id="../../etc/passwd", text="x")),
        ("sql-user", req(user_id="' OR 1=1 --", text="x")),
        ("huge-text", req(user_id="u00001", text="word " * 20_000)),
        ("negative-k", req(user_id="u00001", text="x", k=-5)),
        ("huge-k", req(user_id="u00001", text="x", k=10**9)),
        ("hostile-request-id", req(user_id="u00001", text="x", request_id="\x00" * 300)),
        ("invalid-utf8-text", wire_field(1, 2, b"u00001") + wire_field(2, 2, b"\xff\xfe")),
        ("garbage", b"\xff" * 64),
        ("truncated", req(user_id="u00001", text="hello world")[:-4]),
        ("unknown-user", req(user_id="nobody-at-all", text="hello")),
    ]
    return cases


class InferenceDoor:
    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)

    def close(self) -> None:
        self.channel.close()

    def predict(self, case: Case, out: Outcomes) -> str:
        name, body = case
        call = self.channel.unary_unary("/mlmesh.inference.v1.InferenceService/Predict",
                                        request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        try:
            call(body, timeout=20)
            outcome = "accepted"
            detail = name
        except grpc.RpcError as exc:
            outcome = IngestDoor._status(exc)
            detail = f"{name}: {exc.code()} {exc.details()}"
        out.add("inference-grpc:Predict", outcome, detail)
        return outcome
