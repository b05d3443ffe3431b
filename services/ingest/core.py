"""What the gRPC and HTTP front doors share: decode items, gate on lag, publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from ingest.publisher import Item, Publisher
from ingest.validation import Limits, validate_document, validate_event, validate_label
from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.grpcx.errors import InvalidArgument, PayloadTooLarge, ResourceExhausted
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.serde import time_field
from mlmesh.wire import LazySplit, repeated_field


@dataclass(frozen=True)
class Kind:
    name: str
    cls: type[Message]
    id_field: str
    topic: str
    validate: Callable[[Any, float, Limits], str | None]
    # the gRPC request carrying a batch of ``cls`` as its field 1
    request_cls: type[Message] | None = None

    @property
    def time_field(self) -> str | None:
        return time_field(self.cls.DESCRIPTOR)

    @property
    def stamps_ingest_time(self) -> bool:
        return "ingest_time" in self.cls.DESCRIPTOR.fields_by_name



class IngestCore:
    def __init__(self, publisher: Publisher, kinds: dict[str, Kind], limits: Limits,
                 max_batch: int, refusing: Callable[[], bool], retry_after_s: float) -> None:
        self.publisher = publisher
        self.kinds = kinds
        self.limits = limits
        self.max_batch = max_batch
        self.refusing = refusing
        self.retry_after_s = retry_after_s

    def _gate(self, n: int) -> None:
        if n > self.max_batch:
            raise PayloadTooLarge(f"batch of {n} items; at most {self.max_batch} per request")
        if self.refusing():
            raise ResourceExhausted("downstream consumers are lagging; retry later",
                                    self.retry_after_s)

    def from_request(self, kind: str, request: bytes) -> list[Item]:
        """The items of a gRPC batch request. Fast path: the whole request decodes
        at once (C parser). When it does not, the items are split on the wire so
        one malformed item is reported (and dead-lettered) on its own."""
        spec = self.kinds[kind]
        assert spec.request_cls is not None
        try:
            batch = spec.request_cls.FromString(request)
        except (DecodeError, RuntimeError, ValueError):
            return self.from_wire(kind, list(repeated_field(request, 1)))
        id_field = spec.id_field
        wire = LazySplit(request, 1)  # exact item bytes, split only for a dead letter
        items = getattr(batch, spec.request_cls.DESCRIPTOR.fields_by_number[1].name)
        return [Item(msg, getattr(msg, id_field), None, None, "validation", wire, i)
                for i, msg in enumerate(items)]

    def from_wire(self, kind: str, raws: list[bytes]) -> list[Item]:
        spec = self.kinds[kind]
        items = []
        for raw in raws:
            msg = spec.cls()
            try:
                msg.ParseFromString(raw)
            except (DecodeError, RuntimeError, ValueError) as exc:
                items.append(Item(None, "", raw, f"{kind}: undecodable protobuf ({exc})",
                                  "decode"))
                continue
            items.append(Item(msg, getattr(msg, spec.id_field), raw))
        return items

    def from_json(self, kind: str, objs: list[Any]) -> list[Item]:
        spec = self.kinds[kind]
        items = []
        for obj in objs:
            raw = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
            rid = str(obj.get(spec.id_field, obj.get(_camel(spec.id_field), ""))) \
                if isinstance(obj, dict) else ""
            if not isinstance(obj, dict):
                items.append(Item(None, "", raw, f"{kind}: expected a JSON object", "json"))
                continue
            msg = spec.cls()
            try:
                json_format.ParseDict(obj, msg)
            except (json_format.ParseError, ValueError, TypeError) as exc:
                items.append(Item(None, rid[:128], raw, f"{kind}: {exc}", "json"))
                continue
            items.append(Item(msg, rid[:128], raw))
        return items

    def publish(self, kind: str, items: list[Item],
                timeout_s: float | None = None) -> list[pb.PublishResult]:
        self._gate(len(items))
        spec = self.kinds[kind]
        validate, limits = spec.validate, self.limits
        return self.publisher.publish(spec.topic, items, lambda m, now: validate(m, now, limits),
                                      timeout_s, stamp_ingest_time=spec.stamps_ingest_time,
                                      time_field=spec.time_field)

    def throttle_hint(self, results: list[pb.PublishResult]) -> float | None:
        """Seconds to wait when EVERY item was throttled (then the whole call is
        RESOURCE_EXHAUSTED), else None."""
        if results and all(r.status == pb.PUBLISH_STATUS_THROTTLED for r in results):
            return max(self.retry_after_s, 0.1)
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def default_kinds(events_topic: str, documents_topic: str, labels_topic: str) -> dict[str, Kind]:
    return {
        "user_event": Kind("user_event", user_event_pb2.UserEvent, "event_id", events_topic,
                           validate_event, pb.PublishRequest),
        "document": Kind("document", document_pb2.Document, "doc_id", documents_topic,
                         validate_document, pb.PublishDocumentsRequest),
        "label": Kind("label", label_pb2.Label, "label_id", labels_topic, validate_label,
                      pb.PublishLabelsRequest),
    }


def require_list(body: Any, key: str) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return list(body[key])
    if isinstance(body, dict) and key not in body:
        return [body]  # a single object
    raise InvalidArgument(f"expected a JSON list, an object with '{key}': [...], or one object")


def now() -> float:
    return time.time()
