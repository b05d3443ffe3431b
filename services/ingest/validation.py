"""Validation rules for everything that enters the mesh. Each check returns the
first problem as ``"field: reason"`` (the dead-letter reason and the caller's
per-item error), or ``None`` when the record is valid."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2

# ``s.strip(ID_CHARS)`` is empty exactly when every character of s is in the
# alphabet [A-Za-z0-9_.:-] (a C scan, several times faster than a regex, and no
# ``$``-before-newline loophole).
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"


def is_id(s: str, max_len: int = 128) -> bool:
    return 0 < len(s) <= max_len and not s.strip(ID_CHARS)
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


def _time(name: str, seconds: int, nanos: int, now_s: float, limits: Limits) -> str | None:
    if seconds <= 0 and nanos <= 0:
        return f"{name}: required"
    t = seconds + nanos / 1e9
    if t > now_s + limits.max_future_skew_s:
        return f"{name}: {t - now_s:.0f}s in the future (max {limits.max_future_skew_s:.0f}s)"
    if t < now_s - limits.max_event_age_s:
        return f"{name}: older than {limits.max_event_age_s:.0f}s"
    return None


def _ids(kind: str, record_id: str, user_id: str) -> str | None:
    if not record_id:
        return f"{kind}: required"
    if not is_id(record_id):
        return f"{kind}: must match [A-Za-z0-9_.:-]{{1,128}}"
    if not user_id:
        return "user_id: required"
    if not is_id(user_id, 64):
        return "user_id: must match [A-Za-z0-9_.:-]{1,64}"
    return None


def validate_event(e: user_event_pb2.UserEvent, now_s: float, limits: Limits) -> str | None:
    # The hot path of ingest: checks ordered cheapest first, fields read once.
    event_id, user_id = e.event_id, e.user_id
    if not (is_id(event_id) and is_id(user_id, 64)):
        return _ids("event_id", event_id, user_id)
    action = e.action
    if action not in ACTIONS:
        return "action: required" if action == 0 else f"action: unknown enum value {action}"
    if e.device not in DEVICES:
        return f"device: unknown enum value {e.device}"
    amount = e.amount
    if not 0.0 <= amount <= MAX_AMOUNT:  # also false for NaN
        return f"amount: must be a finite number in [0, {MAX_AMOUNT:.0f}]"
    short = limits.max_short_field
    if len(e.item_id) > short or len(e.session_id) > short:
        return f"item_id/session_id: at most {short} characters"
    attrs = e.attributes
    if attrs:
        if len(attrs) > limits.max_attributes:
            return f"attributes: at most {limits.max_attributes} entries"
        for key in attrs:  # (the map's own iterator: .items() is a slow generic view)
            if len(key) > 64 or len(attrs[key]) > 1024:
                return "attributes: keys at most 64, values at most 1024 characters"
    ts = e.event_time
    seconds = ts.seconds
    if limits.max_future_skew_s < seconds - now_s + 1 or seconds < now_s - limits.max_event_age_s:
        return _time("event_time", seconds, ts.nanos, now_s, limits)  # the precise check
    return None


def validate_document(d: document_pb2.Document, now_s: float, limits: Limits) -> str | None:
    problem = _ids("doc_id", d.doc_id, d.user_id)
    if problem:
        return problem
    if not d.text.strip():
        return "text: empty"
    size = len(d.text.encode("utf-8", "surrogatepass"))
    if size > limits.max_text_bytes:
        return f"text: {size} bytes, at most {limits.max_text_bytes}"
    if len(d.source) > limits.max_short_field:
        return f"source: at most {limits.max_short_field} characters"
    ts = d.created_at
    return _time("created_at", ts.seconds, ts.nanos, now_s, limits)


def validate_label(lb: label_pb2.Label, now_s: float, limits: Limits) -> str | None:
    problem = _ids("label_id", lb.label_id, lb.user_id)
    if problem:
        return problem
    if lb.event_id and not is_id(lb.event_id):
        return "event_id: must match [A-Za-z0-9_.:-]{1,128}"
    if lb.kind not in LABEL_KINDS:
        return "kind: required" if lb.kind == 0 else f"kind: unknown enum value {lb.kind}"
    if not math.isfinite(lb.value):
        return "value: must be finite"
    problem = _time("label_time", lb.label_time.seconds, lb.label_time.nanos, now_s, limits)
    if problem:
        return problem
    if lb.HasField("observed_at") and (
        lb.observed_at.ToNanoseconds() < lb.label_time.ToNanoseconds()
    ):
        return "observed_at: earlier than label_time"
    return None
