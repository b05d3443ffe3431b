"""Validation rules for everything that enters the mesh. Each validator gets
the decoded message and its encoding and returns the first problem as
``"field: reason"`` (the dead-letter reason and the caller's per-item error)
or, when the record is valid, its own time in epoch milliseconds (the Kafka
record timestamp, which event-time consumers read).

The rules themselves (``*_rules``) take the size of the encoding, a bound that
rules most size limits out without reading the fields they concern; the time
field is read once, by the check that has to read it anyway. For user events,
the stream's bulk, ``mlmesh._eventscan`` (C, built by ``make setup`` when a
compiler is there) first reads the encoding once and accepts what it can prove
valid under the same limits; whatever it does not accept goes through the rules
here, which alone word the problems."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.ids import (
    ID_CHARS,
    RECORD_ID,
    RECORD_ID_MAX,
    RECORD_ID_RULE,
    USER_ID,
    USER_ID_MAX,
    USER_ID_RULE,
    is_record_id,
    is_user_id,
)

try:
    from mlmesh._eventscan import EventScan as _Scan

    EventScan: type[_Scan] | None = _Scan
except ImportError:  # not built (no C compiler): the rules alone, same verdicts
    EventScan = None

# fullmatch: no ``$``-before-newline loophole
_ID = RECORD_ID.fullmatch
_USER_ID = USER_ID.fullmatch
Verdict = str | int  # the problem, or the valid record's time in epoch ms

ACTIONS = frozenset(user_event_pb2.Action.values()) - {user_event_pb2.ACTION_UNSPECIFIED}
DEVICES = frozenset(user_event_pb2.Device.values())
LABEL_KINDS = frozenset(label_pb2.LabelKind.values()) - {label_pb2.LABEL_KIND_UNSPECIFIED}
MAX_AMOUNT = 1e9


@dataclass(frozen=True)
class Limits:
    max_text_bytes: int = 64 * 1024
    max_future_skew_s: float = 300.0
    max_event_age_s: float = 7 * 24 * 3600.0
    max_attributes: int = 32
    max_short_field: int = 128
    max_attribute_key: int = 64
    max_attribute_value: int = 1024
    fast_path: bool = True  # the C accept-only scan, where built

    @cached_property
    def detail_floor(self) -> int:
        """The fewest bytes of an event's item_id, session_id and attributes that
        can break a limit on them: an id over ``max_short_field`` characters, an
        attribute key over ``max_attribute_key`` (a map entry of at least 5 bytes
        more), or more than ``max_attributes`` entries (distinct keys: at least
        2 + 5 bytes each)."""
        return min(self.max_short_field, self.max_attribute_key, 2 + 5 * self.max_attributes)

    @cached_property
    def event_scan(self) -> Callable[[bytes, float], int | None] | None:
        """The C scan of an encoded UserEvent under these limits: its time in
        epoch ms when provably valid, else None (then the rules decide)."""
        if EventScan is None or not self.fast_path:
            return None
        scanner = EventScan(
            id_chars=ID_CHARS.encode(), actions=_mask(ACTIONS), devices=_mask(DEVICES),
            max_record_id=RECORD_ID_MAX, max_user_id=USER_ID_MAX,
            max_short=self.max_short_field, max_attributes=self.max_attributes,
            max_key=self.max_attribute_key, max_value=self.max_attribute_value,
            max_amount=MAX_AMOUNT, max_future_skew_s=self.max_future_skew_s,
            max_event_age_s=self.max_event_age_s)
        return scanner.scan


def _mask(values: Iterable[int]) -> int:
    """Enum values 0..63 as a bit set (a larger value is left to the rules)."""
    return sum(1 << v for v in values if 0 <= v < 64)


def _time(name: str, seconds: int, nanos: int, now_s: float, limits: Limits) -> Verdict:
    if seconds <= 0 and nanos <= 0:
        return f"{name}: required"
    t = seconds + nanos / 1e9
    if t > now_s + limits.max_future_skew_s:
        return f"{name}: {t - now_s:.0f}s in the future (max {limits.max_future_skew_s:.0f}s)"
    if t < now_s - limits.max_event_age_s:
        return f"{name}: older than {limits.max_event_age_s:.0f}s"
    return seconds * 1000 + nanos // 1_000_000


def _ids(kind: str, record_id: str, user_id: str) -> str | None:
    if not record_id:
        return f"{kind}: required"
    if not is_record_id(record_id):
        return f"{kind}: {RECORD_ID_RULE}"
    if not user_id:
        return "user_id: required"
    if not is_user_id(user_id):
        return f"user_id: {USER_ID_RULE}"
    return None


def validate_event(e: user_event_pb2.UserEvent, encoded: bytes, now_s: float,
                   limits: Limits) -> Verdict:
    scan = limits.event_scan
    if scan is not None:
        verdict = scan(encoded, now_s)
        if verdict is not None:
            return verdict
    return event_rules(e, len(encoded), now_s, limits)


def validate_document(d: document_pb2.Document, encoded: bytes, now_s: float,
                      limits: Limits) -> Verdict:
    return document_rules(d, len(encoded), now_s, limits)


def validate_label(lb: label_pb2.Label, encoded: bytes, now_s: float, limits: Limits) -> Verdict:
    return label_rules(lb, len(encoded), now_s, limits)


def event_rules(e: user_event_pb2.UserEvent, size: int, now_s: float, limits: Limits) -> Verdict:
    # The hot path of ingest (without the C scan): checks ordered cheapest first, fields read once,
    # the optional fields only when the encoding leaves room for a violation.
    event_id, user_id = e.event_id, e.user_id
    if _ID(event_id) is None or _USER_ID(user_id) is None:
        return _ids("event_id", event_id, user_id) or "event_id: invalid"
    action = e.action
    if action not in ACTIONS:
        return "action: required" if action == 0 else f"action: unknown enum value {action}"
    if e.device not in DEVICES:
        return f"device: unknown enum value {e.device}"
    amount = e.amount
    if not 0.0 <= amount <= MAX_AMOUNT:  # also false for NaN
        return f"amount: must be a finite number in [0, {MAX_AMOUNT:.0f}]"
    if size - len(event_id) - len(user_id) >= limits.detail_floor:
        problem = _details(e, limits)
        if problem is not None:
            return problem
    ts = e.event_time
    seconds, nanos = ts.seconds, ts.nanos
    if limits.max_future_skew_s < seconds - now_s + 1 or seconds < now_s - limits.max_event_age_s:
        return _time("event_time", seconds, nanos, now_s, limits)  # the precise check
    return seconds * 1000 + nanos // 1_000_000


def _details(e: user_event_pb2.UserEvent, limits: Limits) -> str | None:
    short = limits.max_short_field
    if len(e.item_id) > short or len(e.session_id) > short:
        return f"item_id/session_id: at most {short} characters"
    attrs = e.attributes
    if attrs:
        if len(attrs) > limits.max_attributes:
            return f"attributes: at most {limits.max_attributes} entries"
        max_key, max_value = limits.max_attribute_key, limits.max_attribute_value
        for key in attrs:  # (the map's own iterator: .items() is a slow generic view)
            if len(key) > max_key or len(attrs[key]) > max_value:
                return (f"attributes: keys at most {max_key}, values at most {max_value} "
                        "characters")
    return None


def document_rules(d: document_pb2.Document, size: int, now_s: float, limits: Limits) -> Verdict:
    problem = _ids("doc_id", d.doc_id, d.user_id)
    if problem:
        return problem
    if not d.text.strip():
        return "text: empty"
    if size > limits.max_text_bytes:  # else the text cannot be longer
        text_bytes = len(d.text.encode("utf-8", "surrogatepass"))
        if text_bytes > limits.max_text_bytes:
            return f"text: {text_bytes} bytes, at most {limits.max_text_bytes}"
    if len(d.source) > limits.max_short_field:
        return f"source: at most {limits.max_short_field} characters"
    ts = d.created_at
    return _time("created_at", ts.seconds, ts.nanos, now_s, limits)


def label_rules(lb: label_pb2.Label, size: int, now_s: float, limits: Limits) -> Verdict:
    problem = _ids("label_id", lb.label_id, lb.user_id)
    if problem:
        return problem
    if lb.event_id and not is_record_id(lb.event_id):
        return f"event_id: {RECORD_ID_RULE}"
    if lb.kind not in LABEL_KINDS:
        return "kind: required" if lb.kind == 0 else f"kind: unknown enum value {lb.kind}"
    if not math.isfinite(lb.value):
        return "value: must be finite"
    verdict = _time("label_time", lb.label_time.seconds, lb.label_time.nanos, now_s, limits)
    if isinstance(verdict, str):
        return verdict
    if lb.HasField("observed_at") and (
        lb.observed_at.ToNanoseconds() < lb.label_time.ToNanoseconds()
    ):
        return "observed_at: earlier than label_time"
    return verdict
