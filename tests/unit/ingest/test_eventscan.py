"""The C scan (mlmesh._eventscan) accepts only what the Python rules accept, with
the same timestamp, and it does accept ordinary valid events (else it would be
dead weight on the hot path)."""

from __future__ import annotations

import math
import random
import shutil
import time

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.validation import EventScan, Limits, event_rules
from mlmesh.events.v1 import user_event_pb2
from mlmesh.ids import ID_CHARS
from mlmesh.testing.builders import event

NOW = 1_800_000_000.0
LIMITS = Limits()
TIGHT = Limits(max_attributes=3, max_short_field=8, max_attribute_key=4, max_attribute_value=6,
               max_future_skew_s=10, max_event_age_s=100)

if EventScan is None:
    pytestmark = pytest.mark.skipif(
        shutil.which("cc") is None and shutil.which("gcc") is None,
        reason="no C compiler here: ingest validates in Python alone")


def agree(encoded: bytes, limits: Limits, now: float = NOW) -> int | None:
    """The scan's verdict, after checking it against the rules on the same bytes."""
    assert EventScan is not None, "mlmesh._eventscan is not built: run `make setup`"
    scan = limits.event_scan
    assert scan is not None
    fast = scan(encoded, now)
    if fast is not None:
        msg = user_event_pb2.UserEvent.FromString(encoded)
        assert event_rules(msg, 10**9, now, limits) == fast, msg
    return fast


ids = st.text(alphabet=ID_CHARS + " /é\n", min_size=0, max_size=140)
text = st.text(alphabet="ab é\u0101\U0001f600", max_size=12)


@st.composite
def events(draw: st.DrawFn) -> user_event_pb2.UserEvent:
    e = user_event_pb2.UserEvent(
        event_id=draw(ids), user_id=draw(ids),
        action=draw(st.sampled_from([0, 1, 4, 7, 8, 63, 64, -1])),
        device=draw(st.sampled_from([0, 1, 4, 5, -3])),
        amount=draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                              st.sampled_from([0.0, -0.0, 1e9, math.nextafter(1e9, 2e9)]))),
        item_id=draw(text), session_id=draw(text))
    for key in draw(st.lists(text, max_size=6)):
        e.attributes[key] = draw(text)
    if draw(st.booleans()):
        e.event_time.seconds = int(NOW) + draw(st.integers(-120, 20))
        e.event_time.nanos = draw(st.sampled_from([0, 1, 999_999_999]))
    return e


@settings(max_examples=3000, deadline=None)
@given(events(), st.sampled_from([LIMITS, TIGHT]))
def test_the_scan_never_accepts_what_the_rules_reject(e: user_event_pb2.UserEvent,
                                                      limits: Limits) -> None:
    fast = agree(e.SerializeToString(), limits)
    if fast is None:  # what the scan leaves alone, the rules decide (never an error)
        assert event_rules(e, 10**9, NOW, limits) is not None


def test_mangled_encodings_are_left_to_the_rules() -> None:
    rng = random.Random(11)
    base = [event(f"user-{i}", i, t_ms=int(NOW * 1000)).SerializeToString() for i in range(50)]
    accepted = 0
    for _ in range(20_000):
        raw = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            op, at = rng.randrange(3), rng.randrange(len(raw))
            if op == 0:
                raw[at] = rng.randrange(256)
            elif op == 1:
                raw.insert(at, rng.randrange(256))
            else:
                del raw[at]
        try:
            user_event_pb2.UserEvent.FromString(bytes(raw))
        except DecodeError:  # never reaches a validator: ingest dead-letters it first
            continue
        accepted += agree(bytes(raw), LIMITS) is not None
    assert accepted > 300  # the mangling still left many events valid (checked in agree)


def test_ordinary_events_take_the_fast_path() -> None:
    now = time.time()
    for i in range(200):
        e = event(f"user-{i:05d}", i, action=1 + i % 7, amount=float(i))
        e.item_id, e.session_id = f"item-{i}", f"s-{i // 10}"
        assert agree(e.SerializeToString(), LIMITS, now) == e.event_time.ToMilliseconds()


def test_repeated_fields_and_unknown_fields() -> None:
    e = event("user-1", t_ms=int(NOW * 1000))
    raw = e.SerializeToString()
    assert agree(raw + b"\xa8\x1f\x05", LIMITS) is not None  # unknown varint field 500
    assert agree(raw + b"\x12\x01u", LIMITS) is None  # user_id twice: the rules decide
    bad_wire = b"\x20\x01" + raw.replace(b"\x20\x01", b"")  # action as a varint, moved
    assert agree(bad_wire, LIMITS) is not None
    assert agree(raw + b"\x22\x01x", LIMITS) is None  # action (4) with a length: not ours
