"""Bad input, built by hand: one case per way a record can be wrong.

Every case is ``(name, payload bytes)``. Payloads are built at the protobuf
wire level where the Python API would refuse to build them (invalid UTF-8 in a
string field, wrong wire types, truncation), so they reach the services as an
attacker or a broken client would send them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mlmesh.events.v1 import (
    document_pb2,
    feature_update_pb2,
    label_pb2,
    prediction_made_pb2,
    user_event_pb2,
)

Case = tuple[str, bytes]
HOSTILE = ["../../etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "a\x00b", "üser",
           "${jndi:ldap://x}", "a" * 65, " ", "u\nnewline", "\u202etxt.exe", "%s%s%n"]


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num: int, wire: int, payload: bytes | int) -> bytes:
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(int(payload))  # type: ignore[arg-type]
    if wire == 2:
        assert isinstance(payload, bytes)
        return key + varint(len(payload)) + payload
    assert isinstance(payload, bytes)
    return key + payload


def ts(ms: int) -> Timestamp:
    t = Timestamp()
    t.FromMilliseconds(ms)
    return t


def now_ms() -> int:
    return int(time.time() * 1000)


def good_event(i: int | str, user: str = "fuzz-good", at_ms: int | None = None,
               ) -> user_event_pb2.UserEvent:
    return user_event_pb2.UserEvent(
        event_id=f"good-{i}", user_id=user, event_time=ts(at_ms or now_ms() - 1000),
        action=user_event_pb2.ACTION_CLICK, amount=1.5, device=user_event_pb2.DEVICE_WEB)


def _variants(base: Message, changes: dict[str, Callable[[Any], None]]) -> list[Case]:
    """One damaged copy of ``base`` per change; each gets its own record id
    (``<id>-<case>``), so one case's fate never hides another's."""
    id_field = base.DESCRIPTOR.fields[0].name  # event_id / doc_id / label_id / ...
    out = []
    for name, change in changes.items():
        m = type(base)()
        m.CopyFrom(base)
        if getattr(m, id_field):
            setattr(m, id_field, f"{getattr(m, id_field)}-{name}")
        change(m)
        out.append((name, m.SerializeToString()))
    return out


def _set(attr: str, value: object) -> Callable[[Any], None]:
    return lambda m: setattr(m, attr, value)


def _clear(attr: str) -> Callable[[Any], None]:
    return lambda m: m.ClearField(attr)


def wire_cases(valid: bytes) -> list[Case]:
    """Damage common to every message type."""
    return [
        ("truncated", valid[: max(1, len(valid) // 2)]),
        ("truncated-length", valid[:-1]),
        ("garbage", b"\xff\xfe\xfd\xfc" * 8),
        ("field-number-0", b"\x02\x03abc" + valid),
        ("wrong-wire-type-id", field(1, 0, 12345) + valid[1:]),
        ("length-past-end", field(1, 2, b"x")[:-1] + b"\x7f"),
        ("group-wire-type", b"\x0b\x0c" + valid),
        ("invalid-utf8-id", field(1, 2, b"\xc3\x28bad") + valid),
        ("overlong-varint", b"\x08" + b"\xff" * 11),
    ]


def event_cases(seq: int = 0) -> list[Case]:
    base = good_event(f"bad-{seq}", "fuzz-bad")
    n = now_ms()
    cases = _variants(base, {
        "missing-event-id": _set("event_id", ""),
        "missing-user-id": _set("user_id", ""),
        "unknown-action": _set("action", 99),
        "action-unspecified": _set("action", 0),
        "unknown-device": _set("device", 42),
        "negative-amount": _set("amount", -5.0),
        "nan-amount": _set("amount", float("nan")),
        "inf-amount": _set("amount", float("inf")),
        "huge-amount": _set("amount", 1e300),
        "future-timestamp": lambda m: m.event_time.CopyFrom(ts(n + 86_400_000)),
        "ancient-timestamp": lambda m: m.event_time.CopyFrom(ts(1000)),
        "missing-timestamp": _clear("event_time"),
        "huge-item-id": _set("item_id", "x" * 200_000),
        "too-many-attributes": lambda m: m.attributes.update({f"k{i}": "v" for i in range(500)}),
        "huge-attribute": lambda m: m.attributes.update({"k": "v" * 5000}),
    })
    cases += [(f"hostile-user-{i}", user_event_pb2.UserEvent(
        event_id=f"bad-{seq}-h{i}", user_id=u, event_time=ts(n - 1000),
        action=user_event_pb2.ACTION_VIEW).SerializeToString()) for i, u in enumerate(HOSTILE)]
    cases.append(("hostile-event-id", user_event_pb2.UserEvent(
        event_id="'; DROP TABLE users; --", user_id="fuzz-bad", event_time=ts(n - 1000),
        action=user_event_pb2.ACTION_VIEW).SerializeToString()))
    cases.append(("invalid-utf8-user", field(1, 2, f"bad-{seq}-u8".encode())
                  + field(2, 2, b"\xff\xfeuser") + field(4, 0, 1)))
    cases.append(("wrong-type-amount", field(1, 2, f"bad-{seq}-wt".encode())
                  + field(2, 2, b"fuzz-bad") + field(5, 2, b"12.5")))
    return cases + [(f"wire-{k}", v) for k, v in wire_cases(base.SerializeToString())]


def good_document(i: int | str, user: str = "fuzz-good") -> document_pb2.Document:
    return document_pb2.Document(doc_id=f"gdoc-{i}", user_id=user, text="hello there",
                                 source="chat", created_at=ts(now_ms() - 1000))


def document_cases(seq: int = 0) -> list[Case]:
    base = document_pb2.Document(doc_id=f"bdoc-{seq}", user_id="fuzz-bad", text="hi",
                                 created_at=ts(now_ms() - 1000))
    cases = _variants(base, {
        "missing-doc-id": _set("doc_id", ""),
        "empty-text": _set("text", ""),
        "blank-text": _set("text", " \n\t "),
        "huge-text": _set("text", "word " * 40_000),
        "future-created": lambda m: m.created_at.CopyFrom(ts(now_ms() + 86_400_000)),
        "missing-created": _clear("created_at"),
        "hostile-user": _set("user_id", "<img src=x onerror=alert(1)>"),
        "huge-source": _set("source", "s" * 1000),
    })
    cases.append(("invalid-utf8-text", field(1, 2, f"bdoc-{seq}-u8".encode())
                  + field(2, 2, b"fuzz-bad") + field(3, 2, b"caf\xe9 \xff")))
    return cases + [(f"wire-{k}", v) for k, v in wire_cases(base.SerializeToString())]


def label_cases(seq: int = 0) -> list[Case]:
    n = now_ms()
    base = label_pb2.Label(label_id=f"blab-{seq}", user_id="fuzz-bad",
                           kind=label_pb2.LABEL_KIND_FRAUD, value=1.0, label_time=ts(n - 5000),
                           observed_at=ts(n - 1000))
    cases = _variants(base, {
        "missing-label-id": _set("label_id", ""),
        "unknown-kind": _set("kind", 77),
        "nan-value": _set("value", float("nan")),
        "observed-before-label": lambda m: m.observed_at.CopyFrom(ts(n - 60_000)),
        "future-label-time": lambda m: m.label_time.CopyFrom(ts(n + 86_400_000)),
    })
    return cases + [(f"wire-{k}", v) for k, v in wire_cases(base.SerializeToString())]


def feature_update_cases() -> list[Case]:
    base = feature_update_pb2.FeatureUpdate(
        user_id="fuzz-bad", feature_view="user_activity_5m", window_start=ts(now_ms() - 300_000),
        window_end=ts(now_ms()), values={"event_count_5m": 1.0})
    cases = _variants(base, {
        "unknown-view": _set("feature_view", "no_such_view"),
        "missing-user": _set("user_id", ""),
    })
    return cases + [(f"wire-{k}", v) for k, v in wire_cases(base.SerializeToString())]


def prediction_cases() -> list[Case]:
    base = prediction_made_pb2.PredictionMade(request_id="fuzz-bad-1", user_id="fuzz-bad",
                                              model_name="risk_scorer", score=0.5)
    cases = _variants(base, {"nan-score": _set("score", float("nan")),
                             "missing-request-id": _set("request_id", "")})
    return cases + [(f"wire-{k}", v) for k, v in wire_cases(base.SerializeToString())]
