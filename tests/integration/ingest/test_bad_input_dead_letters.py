"""Every class of bad input is rejected with a clear per-item error AND reaches
the dead-letter topic with its reason, while the good events around it in the
same batch are accepted."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import dead_letter_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event
from mlmesh.testing.kafka import consume_all


def _bad_cases() -> dict[str, tuple[bytes, str]]:
    """name -> (raw UserEvent bytes, expected start of the reason)."""
    def ser(e: user_event_pb2.UserEvent) -> bytes:
        return e.SerializeToString()

    no_user = event("x")

    no_user.user_id = ""
    bad_user = event("x")
    bad_user.user_id = "bad user!"
    no_id = event("x")
    no_id.event_id = ""
    no_action = event("x")
    no_action.action = user_event_pb2.ACTION_UNSPECIFIED
    unknown_enum = event("x")
    unknown_enum.action = 42  # type: ignore[assignment]
    negative = event("x", amount=-5.0)
    nan = event("x")
    nan.amount = float("nan")
    future = event("x", t_ms=int((time.time() + 86400) * 1000))
    no_time = event("x")
    no_time.ClearField("event_time")
    huge = event("x")
    huge.item_id = "i" * 10_000
    # invalid UTF-8 inside a string field: field 2 (user_id), length 2, bytes ff fe
    bad_utf8 = ser(event("x")) + b"\x12\x02\xff\xfe"
    truncated = ser(event("x"))[:-3]
    return {
        "missing user_id": (ser(no_user), "user_id: required"),
        "bad user_id": (ser(bad_user), "user_id: must match"),
        "missing event_id": (ser(no_id), "event_id: required"),
        "missing action": (ser(no_action), "action: required"),
        "unknown enum": (ser(unknown_enum), "action: unknown enum value 42"),
        "negative amount": (ser(negative), "amount:"),
        "nan amount": (ser(nan), "amount:"),
        "future time": (ser(future), "event_time:"),
        "missing time": (ser(no_time), "event_time: required"),
        "huge field": (ser(huge), "item_id/session_id"),
        "invalid utf-8": (bad_utf8, "user_event: undecodable"),
        "truncated": (truncated, "user_event: undecodable"),
    }


def _raw_request(items: list[bytes]) -> bytes:
    out = bytearray()
    for raw in items:
        out += b"\x0a"
        n = len(raw)
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                break
        out += raw
    return bytes(out)


def test_each_bad_input_class_is_dead_lettered_and_good_events_flow(ingest_factory,
                                                                   kafka_bootstrap):
    ing = ingest_factory(partitions=3)
    cases = _bad_cases()
    good = [event(f"good-{i}", i) for i in range(len(cases) + 1)]
    raws: list[bytes] = []
    expected: list[tuple[str, str | None]] = []
    for (name, (raw, reason)), g in zip(cases.items(), good, strict=False):
        raws += [g.SerializeToString(), raw]
        expected += [("good", None), (name, reason)]
    raws.append(good[-1].SerializeToString())
    expected.append(("good", None))

    channel = grpc.insecure_channel(ing.settings.grpc_address)
    publish = channel.unary_unary("/mlmesh.ingest.v1.IngestService/Publish",
                                  response_deserializer=pb.PublishResponse.FromString)
    resp = publish(_raw_request(raws), timeout=30)
    channel.close()

    assert resp.accepted == len(good) and resp.rejected == len(cases)
    for (name, reason), result in zip(expected, resp.results, strict=True):
        if reason is None:
            assert result.status == pb.PUBLISH_STATUS_ACCEPTED, (name, result.error)
        else:
            assert result.status == pb.PUBLISH_STATUS_INVALID, name
            assert result.error.startswith(reason), (name, result.error)

    dead = [dead_letter_pb2.DeadLetter.FromString(v)
            for _k, v in consume_all(kafka_bootstrap, ing.topics["events"] + ".dlq")]
    assert len(dead) == len(cases)
    by_reason = sorted(d.reason for d in dead)
    assert by_reason == sorted(r.error for r in resp.results
                               if r.status == pb.PUBLISH_STATUS_INVALID)
    originals = {d.original for d in dead}
    for name, (raw, _reason) in cases.items():
        assert raw in originals, f"{name}: original bytes not kept in the dead letter"
    assert all(d.source_topic == ing.topics["events"] and d.service == "ingest" for d in dead)
    assert {d.error_class for d in dead} == {"validation", "decode"}

    ok = {user_event_pb2.UserEvent.FromString(v).event_id
          for _k, v in consume_all(kafka_bootstrap, ing.topics["events"])}
    assert ok == {g.event_id for g in good}


def test_malformed_batch_framing_is_invalid_argument(ingest_factory):
    ing = ingest_factory(partitions=1)
    channel = grpc.insecure_channel(ing.settings.grpc_address)
    publish = channel.unary_unary("/mlmesh.ingest.v1.IngestService/Publish",
                                  response_deserializer=pb.PublishResponse.FromString)
    with pytest.raises(grpc.RpcError) as info:
        publish(b"\x0a\xff\xff\xff\x0f", timeout=10)  # length far past the end
    channel.close()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed request" in info.value.details()
    # the service is still healthy afterwards
    ts = Timestamp()
    ts.GetCurrentTime()
    resp = ing.stub.Publish(pb.PublishRequest(events=[event("after")]), timeout=10)
    assert resp.accepted == 1
