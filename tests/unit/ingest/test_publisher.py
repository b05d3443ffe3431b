"""The publish path: per-record results in request order, bad records dead-lettered
with their original bytes, delivery failures and timeouts answered as retryable.
Kafka is an in-memory fake here (the integration suite runs the real broker)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError

import ingest.publisher
from ingest.core import IngestCore, default_kinds
from ingest.publisher import Publisher
from ingest.validation import Limits
from mlmesh.auth.authz import ANONYMOUS
from mlmesh.events.v1 import dead_letter_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.kafka.producer import MeshProducer
from mlmesh.ratelimit import KeyedLimiter
from mlmesh.testing.builders import event


@pytest.fixture(autouse=True, params=["c-deliveries", "python-deliveries"])
def _deliveries(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with the C delivery reports (where built) and without."""
    if request.param == "python-deliveries":
        monkeypatch.setattr(ingest.publisher, "Deliveries", None)
    elif ingest.publisher.Deliveries is None:
        pytest.skip("mlmesh._deliveries not built")


class _Msg:
    def __init__(self, topic: str, value: bytes, partition: int, offset: int) -> None:
        self._t, self._v, self._p, self._o = topic, value, partition, offset

    def topic(self) -> str:
        return self._t

    def value(self) -> bytes:
        return self._v

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


class FakeKafka:
    """Acknowledges on poll; ``fail_topics`` get a delivery error, ``hold`` never answers."""

    def __init__(self, fail_topics: tuple[str, ...] = (), hold: bool = False) -> None:
        self.log: list[tuple[str, bytes, Any, int | None]] = []
        self.pending: list[tuple[Any, _Msg]] = []
        self.fail_topics, self.hold = fail_topics, hold

    def produce(self, topic: str, value: bytes, key: Any = None, on_delivery: Any = None,
                headers: Any = None, timestamp: int | None = None) -> None:
        self.log.append((topic, value, key, timestamp))
        self.pending.append((on_delivery, _Msg(topic, value, 3, len(self.log))))

    def poll(self, timeout: float = 0) -> int:
        if self.hold:
            return 0
        todo, self.pending = self.pending, []
        for cb, msg in todo:
            err = KafkaError(KafkaError._MSG_TIMED_OUT) if msg.topic() in self.fail_topics else None
            cb(err, msg)
        return len(todo)


def _publish_raw(core: IngestCore, raw: bytes) -> Any:
    """A batch request through the core, authentication off (ANONYMOUS)."""
    return core.publish("user_event", core.from_request("user_event", raw), who=ANONYMOUS)


def _core(kafka: FakeKafka, ack_timeout_s: float = 2.0, rate: float = 0) -> IngestCore:
    pub = Publisher(MeshProducer({}, producer=kafka), "ingest", KeyedLimiter(rate, 1),
                    ack_timeout_s)
    return IngestCore(pub, default_kinds("ev", "docs", "labels"), Limits(), 100, lambda: False, 1)


def _request(events: list[user_event_pb2.UserEvent]) -> bytes:
    return pb.PublishRequest(events=events).SerializeToString()


def _publish(core: IngestCore, events: list[user_event_pb2.UserEvent]) -> list[pb.PublishResult]:
    return _publish_raw(core, _request(events)).results()


def test_results_follow_request_order_and_bad_records_go_to_the_dlq():
    kafka = FakeKafka()
    core = _core(kafka)
    good1, good2, bad = event("u1", 1), event("u2", 2), event("u3", 3)
    bad.amount = -5
    results = _publish_raw(core, _request([good1, bad, good2])).results()
    assert [r.id for r in results] == [good1.event_id, bad.event_id, good2.event_id]
    assert [r.status for r in results] == [pb.PUBLISH_STATUS_ACCEPTED, pb.PUBLISH_STATUS_INVALID,
                                           pb.PUBLISH_STATUS_ACCEPTED]
    assert results[1].error.startswith("amount:")
    produced = {t: [v for tt, v, _, _ in kafka.log if tt == t] for t in ("ev", "ev.dlq")}
    sent = [user_event_pb2.UserEvent.FromString(v) for v in produced["ev"]]
    assert [e.event_id for e in sent] == [good1.event_id, good2.event_id]
    assert all(e.ingest_time.seconds > 0 for e in sent)
    # the record timestamp is the event's own time
    assert [ts for t, _, _, ts in kafka.log if t == "ev"] == [
        good1.event_time.ToMilliseconds(), good2.event_time.ToMilliseconds()]
    (dl,) = [dead_letter_pb2.DeadLetter.FromString(v) for v in produced["ev.dlq"]]
    assert dl.original == bad.SerializeToString()
    assert "amount" in dl.reason
    assert core.publisher.counts == {"accepted": 2, "invalid": 1, "throttled": 0}


def test_the_dead_letter_holds_exactly_the_bytes_sent():
    """Re-encoding a decoded message need not give the same bytes (map entries,
    unknown fields): the dead letter must carry what the client sent."""
    kafka = FakeKafka()
    core = _core(kafka)
    bad = event("u1")
    bad.attributes.update({f"k{i}": "v" for i in range(40)})  # too many attributes
    item = bad.SerializeToString()
    unknown_field = b"\xa0\x06\x01"  # field 100, varint 1: not in UserEvent
    sent = item + unknown_field
    good = event("u2").SerializeToString()
    request = b"".join(b"\x0a" + _varint(len(x)) + x for x in (good, sent))
    results = _publish_raw(core, request).results()
    assert [r.status for r in results] == [pb.PUBLISH_STATUS_ACCEPTED, pb.PUBLISH_STATUS_INVALID]
    (dl,) = [dead_letter_pb2.DeadLetter.FromString(v) for t, v, _, _ in kafka.log if t == "ev.dlq"]
    assert dl.original == sent


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def test_a_malformed_item_is_split_out_and_its_neighbours_still_publish():
    kafka = FakeKafka()
    core = _core(kafka)
    good = event("u1").SerializeToString()
    broken = b"\x0a\x03\xff\xfe\xfd"  # field 1 holding invalid UTF-8
    request = b"".join(b"\x0a" + bytes([len(x)]) + x for x in (good, broken, good))
    results = _publish_raw(core, request).results()
    assert [r.status for r in results] == [pb.PUBLISH_STATUS_ACCEPTED, pb.PUBLISH_STATUS_INVALID,
                                           pb.PUBLISH_STATUS_ACCEPTED]
    assert "undecodable" in results[1].error
    (dl,) = [dead_letter_pb2.DeadLetter.FromString(v) for t, v, _, _ in kafka.log if t == "ev.dlq"]
    assert dl.original == broken


def test_delivery_failure_is_retryable_not_accepted():
    core = _core(FakeKafka(fail_topics=("ev",)))
    (result,) = _publish(core, [event("u")])
    assert result.status == pb.PUBLISH_STATUS_THROTTLED
    assert "kafka delivery failed" in result.error


def test_no_acknowledgement_in_time_is_retryable():
    core = _core(FakeKafka(hold=True), ack_timeout_s=0.2)
    results = _publish(core, [event("u"), event("v")])
    assert [r.status for r in results] == [pb.PUBLISH_STATUS_THROTTLED] * 2
    assert all("not acknowledged" in r.error for r in results)


def test_rate_limited_user_is_throttled_with_a_hint():
    kafka = FakeKafka()
    core = _core(kafka, rate=0.001)  # burst 1: the second event of the user waits
    results = _publish(core, [event("u"), event("u")])
    assert [r.status for r in results] == [pb.PUBLISH_STATUS_ACCEPTED,
                                           pb.PUBLISH_STATUS_THROTTLED]
    assert "rate limit" in results[1].error
    reply = _publish_raw(core, _request([event("w"), event("w")]))
    assert core.throttle_hint(reply) is None  # not every item throttled


def test_ingest_time_is_the_services_own_stamp_whatever_the_client_sent():
    kafka = FakeKafka()
    core = _core(kafka)
    e = event("u1")
    e.ingest_time.seconds, e.ingest_time.nanos = 12, 34  # a client cannot choose it
    before = time.time_ns()
    _publish_raw(core, _request([e])).results()
    (value,) = [v for t, v, _, _ in kafka.log if t == "ev"]
    sent = user_event_pb2.UserEvent.FromString(value)
    assert before <= sent.ingest_time.ToNanoseconds() <= time.time_ns()
    sent.ClearField("ingest_time")
    e.ClearField("ingest_time")
    assert sent == e
