"""What the gRPC and HTTP front doors share: decode items, gate on lag, publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from ingest.publisher import Failure, Outcome, Publisher, Records, Validator
from ingest.validation import Limits, validate_document, validate_event, validate_label
from mlmesh.auth.authz import Authorizer, Principal
from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.grpcx.errors import InvalidArgument, PayloadTooLarge, ResourceExhausted
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.wire import LazySplit, repeated_field

R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class Kind:
    name: str
    cls: type[Message]
    id_field: str
    topic: str
    validate: Validator
    # the gRPC request carrying a batch of ``cls`` as its field 1
    request_cls: type[Message] | None = None

    @property
    def stamp_field(self) -> int | None:
        """The number of the ingest-time field the service stamps, if any."""
        f = self.cls.DESCRIPTOR.fields_by_name.get("ingest_time")
        return f.number if f is not None else None


class IngestCore:
    def __init__(self, publisher: Publisher, kinds: dict[str, Kind], limits: Limits,
                 max_batch: int, refusing: Callable[[], bool], retry_after_s: float,
                 authorizer: Authorizer | None = None,
                 counted: Callable[[str, int, int], None] | None = None) -> None:
        self.publisher = publisher
        # (kind, accepted, not accepted) of every published batch: a metric
        self.counted = counted
        self.authorizer = authorizer or Authorizer(None)
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

    def from_request(self, kind: str, request: bytes) -> Records:
        """The records of a gRPC batch request. Fast path: the whole request decodes
        at once (C parser). When it does not, the items are split on the wire so
        one malformed item is reported (and dead-lettered) on its own."""
        spec = self.kinds[kind]
        assert spec.request_cls is not None
        try:
            batch = spec.request_cls.FromString(request)
        except (DecodeError, RuntimeError, ValueError):
            return self.from_wire(kind, list(repeated_field(request, 1)))
        items = getattr(batch, spec.request_cls.DESCRIPTOR.fields_by_number[1].name)
        # exact item bytes, split from the request only for a dead letter
        return Records(list(items), LazySplit(request, 1).__getitem__, spec.id_field)

    def from_wire(self, kind: str, raws: list[bytes]) -> Records:
        spec = self.kinds[kind]
        msgs: list[Any] = []
        failures: dict[int, Failure] = {}
        for i, raw in enumerate(raws):
            msg = spec.cls()
            try:
                msg.ParseFromString(raw)
            except (DecodeError, RuntimeError, ValueError) as exc:
                failures[i] = Failure("", f"{kind}: undecodable protobuf ({exc})", "decode")
                msgs.append(None)
                continue
            msgs.append(msg)
        return Records(msgs, raws.__getitem__, spec.id_field, failures)

    def from_json(self, kind: str, objs: list[Any]) -> Records:
        spec = self.kinds[kind]
        msgs: list[Any] = []
        originals: list[bytes] = []
        failures: dict[int, Failure] = {}
        for i, obj in enumerate(objs):
            originals.append(json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            msgs.append(None)
            if not isinstance(obj, dict):
                failures[i] = Failure("", f"{kind}: expected a JSON object", "json")
                continue
            rid = str(obj.get(spec.id_field, obj.get(_camel(spec.id_field), "")))[:128]
            msg = spec.cls()
            try:
                json_format.ParseDict(obj, msg)
            except (json_format.ParseError, ValueError, TypeError) as exc:
                failures[i] = Failure(rid, f"{kind}: {exc}", "json")
                continue
            msgs[i] = msg
        return Records(msgs, originals.__getitem__, spec.id_field, failures)

    def publish(self, kind: str, records: Records, timeout_s: float | None = None, *,
                who: Principal) -> Reply:
        """Publish a batch for ``who``: every decoded item's user must be in the
        key's scope, else the whole call is PERMISSION_DENIED and nothing of it
        is published, dead letters included. (An item without a user is left to
        validation: it is dead-lettered with its reason.)"""
        self._gate(len(records.msgs))
        users = (m.user_id for m in records.msgs if m is not None and m.user_id)
        self.authorizer.authorize(who, users, f"publish {kind}")
        spec = self.kinds[kind]
        out = self.publisher.publish(spec.topic, records, spec.validate, self.limits, timeout_s,
                                     spec.stamp_field)
        if self.counted is not None:
            self.counted(kind, out.accepted, len(out.statuses) - out.accepted)
        return Reply(records, out)

    def throttle_hint(self, reply: Reply) -> float | None:
        """Seconds to wait when EVERY item was throttled (then the whole call is
        RESOURCE_EXHAUSTED), else None."""
        statuses = reply.out.statuses
        if statuses and statuses.count(pb.PUBLISH_STATUS_THROTTLED) == len(statuses):
            return max(self.retry_after_s, 0.1)
        return None


@dataclass(slots=True)
class Reply:
    """The caller's answer to one request: a result per record in request order."""

    records: Records
    out: Outcome

    @property
    def accepted(self) -> int:
        return self.out.accepted

    @property
    def rejected(self) -> int:
        return len(self.out.statuses) - self.out.accepted

    @property
    def first_error(self) -> str:
        return next((e for e in self.out.errors if e), "")

    def _rows(self) -> Iterator[tuple[str, int, str, int, int]]:
        out, records = self.out, self.records
        ids: Iterable[str] = (map(attrgetter(records.id_field), records.msgs)
                              if not records.failures
                              else map(records.record_id, range(len(records.msgs))))
        return zip(ids, out.statuses, out.errors, out.partitions, out.offsets, strict=True)

    def fill(self, response: R) -> R:
        """``response`` (a Publish*Response) with every result and the counts."""
        add = response.results.add  # type: ignore[attr-defined]
        for rid, status, error, partition, offset in self._rows():
            if error:
                add(id=rid, status=status, error=error, partition=partition, offset=offset)
            else:
                add(id=rid, status=status, partition=partition, offset=offset)
        response.accepted = self.accepted  # type: ignore[attr-defined]
        response.rejected = self.rejected  # type: ignore[attr-defined]
        return response

    def results(self) -> list[pb.PublishResult]:
        return list(self.fill(pb.PublishResponse()).results)


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
