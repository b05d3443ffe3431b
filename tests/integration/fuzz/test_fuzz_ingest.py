"""Bad input at ingest's doors (gRPC and HTTP): every bad item ends INVALID with
its reason and a dead letter carrying its original bytes, or the whole call is
refused with a clear status; the good items around it are accepted and land in
the topic; the ingest process neither crashes nor stalls."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlmesh.chaos import corpus
from mlmesh.chaos.fuzz import DEFECTS, IngestDoor, Outcomes, raw_request
from mlmesh.chaos.procs import ProcessControl
from mlmesh.chaos.stackenv import ChaosStack
from mlmesh.chaos.topics import read_topic
from mlmesh.events.v1 import dead_letter_pb2, user_event_pb2

KINDS = {"user_event": ("user_events", corpus.event_cases),
         "document": ("documents", corpus.document_cases),
         "label": ("labels", corpus.label_cases)}
# Cases that are damaged at the wire level may still decode into something
# valid (protobuf skips unknown fields): those may be accepted. All others
# break a rule and must be INVALID.
MAY_PASS = ("wire-group-wire-type", "wire-wrong-wire-type-id", "wire-truncated")
HYP = settings(max_examples=120, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture(autouse=True)
def ingest_survives(fuzz_stack: ChaosStack):  # type: ignore[no-untyped-def]
    pc = ProcessControl(fuzz_stack.run_dir)
    pid = pc.pid("ingest")
    yield
    assert pc.pid("ingest") == pid, "ingest restarted: it crashed on bad input"
    assert fuzz_stack.healthy("ingest"), "ingest no longer SERVING after bad input"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corpus_items_invalid_with_reason(kind: str, ingest_door: IngestDoor,
                                          outcomes: Outcomes) -> None:
    _topic, cases = KINDS[kind]
    results = {name: ingest_door.grpc_item(kind, (name, data), outcomes)
               for name, data in cases(1)}
    assert not outcomes.defects, outcomes.defects
    must_fail = {n: o for n, o in results.items() if not n.startswith(MAY_PASS)}
    assert all(o == "invalid" for o in must_fail.values()), must_fail


def test_malformed_whole_requests_are_refused_clearly(ingest_door: IngestDoor,
                                                      outcomes: Outcomes) -> None:
    good = corpus.good_event("whole").SerializeToString()
    bodies = {"truncated-request": raw_request([good])[:-3],
              "garbage-request": b"\xff" * 40,
              "wrong-wire-type": b"\x08\x96\x01" + raw_request([good])[:2]}
    for name, body in bodies.items():
        assert ingest_door.grpc_whole_request(name, body, outcomes) in ("rejected", "invalid")
    assert not outcomes.defects, outcomes.defects


def test_http_bad_bodies(ingest_door: IngestDoor, outcomes: Outcomes) -> None:
    ok_event = {"event_id": "http-good-1", "user_id": "fuzz-good", "action": "ACTION_VIEW",
                "event_time": "2030-01-01T00:00:00Z"}
    bodies: dict[str, bytes] = {
        "not-json": b"{nope",
        "invalid-utf8": b'{"event_id": "\xff\xfe"}',
        "wrong-types": json.dumps([{"event_id": 5, "user_id": ["x"], "amount": "lots"}]).encode(),
        "unknown-enum": json.dumps([{**ok_event, "action": "ACTION_FLY"}]).encode(),
        "future-time": json.dumps([ok_event]).encode(),
        "not-objects": json.dumps([1, "two", None]).encode(),
        "deep-nesting": b"[" * 5000 + b"]" * 5000,
        "null": b"null",
        "huge-number": json.dumps([{**ok_event, "amount": 1e308 * 10}]).encode(),
        "hostile-user": json.dumps([{**ok_event, "user_id": "<script>"}]).encode(),
    }
    for name, body in bodies.items():
        got = ingest_door.http("/v1/events", body, name, outcomes)
        assert got in ("invalid", "rejected"), (name, got)
    got = ingest_door.http("/v1/events", b"[]", "content-length-lie", outcomes,
                           headers={"Content-Length": str(10**9)})
    assert got == "rejected"
    assert not outcomes.defects, outcomes.defects


@HYP
@given(data=st.binary(max_size=600))
def test_random_bytes_as_items(data: bytes, ingest_door: IngestDoor,
                               outcomes: Outcomes) -> None:
    assert ingest_door.grpc_item("user_event", ("random-bytes", data), outcomes) \
        not in DEFECTS, outcomes.defects[-1:]


def _mutated(valid: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    buf = bytearray(valid)
    for pos, byte in edits:
        buf[pos % len(buf)] = byte
    return bytes(buf[: max(0, len(buf) - cut)])


@HYP
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       cut=st.integers(0, 12), kind=st.sampled_from(sorted(KINDS)))
def test_mutated_valid_items(edits: list[tuple[int, int]], cut: int, kind: str,
                             ingest_door: IngestDoor, outcomes: Outcomes) -> None:
    valid = {"user_event": corpus.good_event("mut").SerializeToString(),
             "document": corpus.good_document("mut").SerializeToString(),
             "label": corpus.label_cases()[0][1]}[kind]
    out = ingest_door.grpc_item(kind, ("mutated", _mutated(valid, edits, cut)), outcomes)
    assert out not in DEFECTS, outcomes.defects[-1:]


@HYP
@given(event_id=st.text(max_size=140), user_id=st.text(max_size=80),
       action=st.integers(-3, 300), device=st.integers(-1, 9),
       amount=st.floats(allow_nan=True, allow_infinity=True),
       seconds=st.integers(-(2**40), 2**40), item=st.text(max_size=300))
def test_structured_random_events(event_id: str, user_id: str, action: int, device: int,
                                  amount: float, seconds: int, item: str,
                                  ingest_door: IngestDoor, outcomes: Outcomes) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp(seconds=max(-62135596800, min(seconds, 253402300799)))
    msg = user_event_pb2.UserEvent(event_id=event_id, user_id=user_id, event_time=ts,
                                   action=action, device=device, amount=amount,  # type: ignore[arg-type]
                                   item_id=item)
    out = ingest_door.grpc_item("user_event", ("structured", msg.SerializeToString()), outcomes)
    assert out not in DEFECTS, outcomes.defects[-1:]


def test_every_invalid_item_dead_lettered_and_every_good_event_arrived(
        fuzz_stack: ChaosStack, ingest_door: IngestDoor, outcomes: Outcomes) -> None:
    assert ingest_door.invalid, "the fuzz tests above sent nothing invalid"
    for kind, (topic, _cases) in KINDS.items():
        sent = [b for k, b in ingest_door.invalid if k == kind]
        letters = [dead_letter_pb2.DeadLetter.FromString(r.value or b"")
                   for r in read_topic(fuzz_stack.bootstrap, f"{topic}.dlq")]
        by_original = {d.original: d for d in letters}
        missing = [b[:40] for b in sent if b not in by_original]
        assert not missing, f"{topic}: {len(missing)} INVALID items without a dead letter"
        assert all(by_original[b].reason and by_original[b].service == "ingest" for b in sent)
    ids = set()
    for r in read_topic(fuzz_stack.bootstrap, "user_events"):
        ids.add(user_event_pb2.UserEvent.FromString(r.value or b"").event_id)
    lost = [g for g in ingest_door.good_ids if g not in ids]
    assert not lost, f"{len(lost)} good events lost around bad ones, e.g. {lost[:3]}"
    assert outcomes.tried >= 300
    assert not outcomes.defects, outcomes.defects
