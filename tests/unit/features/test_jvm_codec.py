"""The features job's JVM codec (services/features/jvm) accepts exactly what the
job's rules accept, with the same fields and the same reasons, and accepts
every event ingest accepts. Runs the real jar through its CodecCheck entry
point (one JVM per batch of inputs)."""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ingest.validation import ACTIONS, Limits, event_rules
from mlmesh.events.v1 import document_pb2, feature_update_pb2, user_event_pb2
from mlmesh.ids import ID_CHARS, USER_ID_MAX, USER_ID_RULE, is_user_id
from mlmesh.localstack.flink import FUNCTIONS_JAR
from mlmesh.localstack.paths import jars_root

NOW_S = 1_800_000_000
MAX_TIME_MS = 253_402_300_799_999
Verdict = tuple[Any, ...]

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="no Java here")


def _jar() -> str:
    jar = jars_root() / FUNCTIONS_JAR
    assert jar.exists(), f"{jar} missing: run `make setup-flink`"
    return str(jar)


def jvm(kind: str, payloads: list[bytes | None]) -> list[dict[str, Any]]:
    framed = b"".join(struct.pack(">i", -1) if p is None else struct.pack(">i", len(p)) + p
                      for p in payloads)
    res = subprocess.run(["java", "-cp", _jar(), "org.mlmesh.features.CodecCheck", kind,
                          ID_CHARS, str(USER_ID_MAX), USER_ID_RULE],
                         input=framed, capture_output=True, timeout=120, check=True)
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert len(rows) == len(payloads)
    return rows


def verdict(row: dict[str, Any]) -> Verdict:
    """What matters of a JVM answer: the error class and, for a rule, its reason
    (a parser's own wording is its own), else every field."""
    if row["error_class"] == "decode":
        return ("decode",)
    if row["error_class"] is not None:
        return (row["error_class"], row["reason"])
    return (row["id"], row["user_id"], row["ts"], row["slice_last"], row["action"],
            float(row["amount"]))


def _time(field: str, present: bool, ts: Timestamp) -> int | str:
    """The job's time rule: epoch ms, or the reason."""
    if not present:
        return f"{field}: required"
    if abs(ts.seconds) > MAX_TIME_MS // 1000:
        return f"{field}: out of range"
    ms = ts.seconds * 1000 + ts.nanos // 1_000_000
    if ms <= 0:
        return f"{field}: required"
    return ms if ms <= MAX_TIME_MS else f"{field}: out of range"


def _slice_last(ms: int) -> int:
    return (ms // 60_000 + 1) * 60_000 - 1


def reference_event(data: bytes | None) -> Verdict:
    """The rules in plain Python, written from the job's contract."""
    if not data:
        return ("decode",)
    try:
        e = user_event_pb2.UserEvent.FromString(data)
    except Exception:
        return ("decode",)
    if not e.event_id:
        return ("validation", "event_id: required")
    if not is_user_id(e.user_id):
        return ("validation", f"user_id: {USER_ID_RULE}")
    ms = _time("event_time", e.HasField("event_time"), e.event_time)
    if isinstance(ms, str):
        return ("validation", ms)
    if not math.isfinite(e.amount):
        return ("validation", "amount: must be finite")
    if e.action == 0:
        return ("validation", "action: required")
    if e.action not in ACTIONS:
        return ("validation", f"action: unknown enum value {e.action}")
    return (e.event_id, e.user_id, ms, _slice_last(ms), e.action, e.amount)


def reference_document(data: bytes | None) -> Verdict:
    if not data:
        return ("decode",)
    try:
        d = document_pb2.Document.FromString(data)
    except Exception:
        return ("decode",)
    if not d.doc_id:
        return ("validation", "doc_id: required")
    if not is_user_id(d.user_id):
        return ("validation", f"user_id: {USER_ID_RULE}")
    ms = _time("created_at", d.HasField("created_at"), d.created_at)
    if isinstance(ms, str):
        return ("validation", ms)
    return (d.doc_id, d.user_id, ms, _slice_last(ms), 0, 0.0)


def _ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def _ev(**kw: Any) -> bytes:
    fields = {"event_id": "e1", "user_id": "u-1", "event_time": _ts(1_700_000_123, 456_000_000),
              "action": 4, "amount": 12.5, **kw}
    return user_event_pb2.UserEvent(**fields).SerializeToString()


def test_a_valid_event_is_flattened_with_its_minute_slice() -> None:
    (row,) = jvm("event", [_ev()])
    assert verdict(row) == ("e1", "u-1", 1_700_000_123_456, 1_700_000_159_999, 4, 12.5)


@pytest.mark.parametrize("payload,want", [
    (None, ("decode",)),
    (b"", ("decode",)),
    (b"\xff\x01junk", ("decode",)),
    (_ev(event_id=""), ("validation", "event_id: required")),
    (_ev(user_id=""), ("validation", f"user_id: {USER_ID_RULE}")),
    (_ev(user_id="bad user!"), ("validation", f"user_id: {USER_ID_RULE}")),
    (_ev(user_id="u" * 65), ("validation", f"user_id: {USER_ID_RULE}")),
    (_ev(amount=float("nan")), ("validation", "amount: must be finite")),
    (_ev(amount=float("-inf")), ("validation", "amount: must be finite")),
    (_ev(action=0), ("validation", "action: required")),
    (_ev(action=99), ("validation", "action: unknown enum value 99")),
    (_ev(event_time=_ts(0)), ("validation", "event_time: required")),
    (_ev(event_time=_ts(-5)), ("validation", "event_time: required")),
    (_ev(event_time=_ts(10**15)), ("validation", "event_time: out of range")),
    (user_event_pb2.UserEvent(event_id="e", user_id="u", action=1).SerializeToString(),
     ("validation", "event_time: required")),
])
def test_each_bad_event_gets_its_class_and_reason(payload: bytes | None, want: Verdict) -> None:
    (row,) = jvm("event", [payload])
    assert verdict(row) == want
    assert reference_event(payload) == want


def test_a_document_is_flattened_and_bad_ones_are_named() -> None:
    good = document_pb2.Document(doc_id="d", user_id="u", created_at=_ts(120, 1_000_000))
    rows = jvm("document", [good.SerializeToString(),
                            document_pb2.Document(user_id="u").SerializeToString(),
                            document_pb2.Document(doc_id="d", user_id="u").SerializeToString()])
    assert [verdict(r) for r in rows] == [
        ("d", "u", 120_001, 179_999, 0, 0.0), ("validation", "doc_id: required"),
        ("validation", "created_at: required")]


def _random_event(rnd: random.Random) -> user_event_pb2.UserEvent:
    ident = "".join(rnd.choice(ID_CHARS + " /é") for _ in range(rnd.choice([0, 1, 8, 64, 65])))
    e = user_event_pb2.UserEvent(
        event_id=rnd.choice(["", "e-1", "e-2", ident]),
        user_id=rnd.choice(["", "user-1", "u.2:x", ident]),
        action=rnd.choice([0, 1, 4, 7, 7, 8, -1]), device=rnd.choice([0, 1, 1, 5]),
        amount=rnd.choice([0.0, -0.0, 12.25, 12.25, 1e9, 2e9, -3.5, float("nan"), float("inf")]),
        item_id=rnd.choice(["", "", "sku-1", "x" * 200]))
    for i in range(rnd.choice([0, 0, 0, 2, 40])):
        e.attributes[f"k{i}"] = "v"
    if rnd.random() < 0.9:
        e.event_time.seconds = NOW_S + rnd.randint(-400, 400)
        e.event_time.nanos = rnd.choice([0, 1, 999_999_999])
    return e


def test_the_jvm_agrees_with_the_rules_and_with_ingest_on_generated_events() -> None:
    rnd = random.Random(5)
    events = [_random_event(rnd) for _ in range(3000)]
    rows = jvm("event", [e.SerializeToString() for e in events])
    ingest_accepted = 0
    for e, row in zip(events, rows, strict=True):
        raw = e.SerializeToString()
        assert verdict(row) == reference_event(raw), e
        ingested = event_rules(e, len(raw), float(NOW_S), Limits())
        if isinstance(ingested, int):  # whatever ingest accepts, the job counts
            ingest_accepted += 1
            assert row["error_class"] is None and row["ts"] == ingested, e
    assert ingest_accepted > 100  # the generator does reach the accepting side


@pytest.mark.parametrize("kind,reference", [("event", reference_event),
                                            ("document", reference_document)])
def test_mangled_bytes_get_the_same_verdicts(kind: str, reference: Any) -> None:
    rnd = random.Random(13)
    if kind == "event":
        base = [_ev(event_id=f"e{i}", attributes={"a": "é" * i}) for i in range(20)]
    else:
        base = [document_pb2.Document(doc_id=f"d{i}", user_id="u", text="ü" * i,
                                      created_at=_ts(NOW_S)).SerializeToString()
                for i in range(20)]
    payloads = []
    for _ in range(10_000):
        raw = bytearray(rnd.choice(base))
        for _ in range(rnd.randint(1, 3)):
            op, at = rnd.random(), rnd.randrange(len(raw))
            if op < 0.5:
                raw[at] = rnd.randrange(256)
            elif op < 0.75:
                del raw[at:at + rnd.randint(1, 4)]
            else:
                raw[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3)))
        payloads.append(bytes(raw))
    rows = jvm(kind, payloads)
    mismatches = [(p.hex(), verdict(r), reference(p)) for p, r in zip(payloads, rows, strict=True)
                  if verdict(r) != reference(p)]
    assert not mismatches, mismatches[:5]
    assert sum(1 for r in rows if r["error_class"] is None) > 100


def test_feature_update_encoding() -> None:
    lines = "\n".join(["u-1\tuser_activity_5m\t0\t300000\t299000\tevent_count_5m=3.0,a=null",
                       "u-2\tuser_activity_5m\t60000\t360000\t-\tevent_count_5m=0.0"]) + "\n"
    res = subprocess.run(["java", "-cp", _jar(), "org.mlmesh.features.CodecCheck",
                          "feature-update"], input=lines.encode(), capture_output=True,
                         timeout=60, check=True)
    real, zero = (feature_update_pb2.FeatureUpdate.FromString(bytes.fromhex(h))
                  for h in res.stdout.decode().split())
    assert (real.user_id, real.feature_view) == ("u-1", "user_activity_5m")
    assert (real.window_start.ToMilliseconds(), real.window_end.ToMilliseconds()) == (0, 300_000)
    assert dict(real.values) == {"event_count_5m": 3.0, "a": 0.0}  # a null value counts as 0
    assert real.max_event_time.ToMilliseconds() == 299_000
    assert real.emitted_at.ToMilliseconds() == 1_000
    assert not zero.HasField("max_event_time")  # a zero row has no newest event
