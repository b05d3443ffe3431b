"""Validation rules: each rule rejects what it should, with a clear reason."""

from __future__ import annotations

import time

import pytest

from ingest.validation import Limits, validate_document, validate_event, validate_label
from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.testing.builders import event

LIM = Limits()


def test_a_good_event_passes():
    assert validate_event(event("user-1", amount=9.5), time.time(), LIM) is None


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda e: setattr(e, "user_id", ""), "user_id: required"),
    (lambda e: setattr(e, "user_id", "x" * 65), "user_id: must match"),
    (lambda e: setattr(e, "user_id", "white space"), "user_id: must match"),
    (lambda e: setattr(e, "event_id", ""), "event_id: required"),
    (lambda e: setattr(e, "event_id", "id/with/slash"), "event_id: must match"),
    (lambda e: setattr(e, "event_id", "trailing-newline\n"), "event_id: must match"),
    (lambda e: setattr(e, "user_id", "user-1\n"), "user_id: must match"),
    (lambda e: setattr(e, "event_id", "x" * 129), "event_id: must match"),
    (lambda e: e.attributes.update({"k" * 65: "v"}), "attributes: keys at most 64"),
    (lambda e: e.attributes.update({"k": "v" * 1025}), "attributes: keys at most 64"),
    (lambda e: setattr(e, "action", 0), "action: required"),
    (lambda e: setattr(e, "action", 99), "action: unknown enum value 99"),
    (lambda e: setattr(e, "device", 77), "device: unknown enum value 77"),
    (lambda e: setattr(e, "amount", -1.0), "amount:"),
    (lambda e: setattr(e, "amount", float("inf")), "amount:"),
    (lambda e: setattr(e, "amount", 2e9), "amount:"),
    (lambda e: setattr(e, "item_id", "x" * 129), "item_id/session_id"),
    (lambda e: e.event_time.FromSeconds(int(time.time() + 3600)), "event_time: 3"),
    (lambda e: e.event_time.FromSeconds(int(time.time() - 8 * 86400)), "event_time: older"),
    (lambda e: e.ClearField("event_time"), "event_time: required"),
    (lambda e: e.attributes.update({f"k{i}": "v" for i in range(33)}), "attributes: at most 32"),
])
def test_bad_events_are_rejected_with_reason(mutate, reason):
    e = event("user-1")
    mutate(e)
    problem = validate_event(e, time.time(), LIM)
    assert problem is not None and problem.startswith(reason), problem


def test_document_rules():
    NOW = time.time()
    d = document_pb2.Document(doc_id="d1", user_id="u1", text="hello", source="chat")
    d.created_at.FromSeconds(int(NOW))
    assert validate_document(d, NOW, LIM) is None
    d.text = "   "
    assert validate_document(d, NOW, LIM) == "text: empty"
    d.text = "é" * 40_000  # 80,000 bytes in UTF-8
    assert validate_document(d, NOW, LIM).startswith("text: 80000 bytes")


def test_label_rules():
    NOW = time.time()
    lb = label_pb2.Label(label_id="l1", user_id="u1", kind=label_pb2.LABEL_KIND_FRAUD, value=1)
    lb.label_time.FromSeconds(int(NOW - 60))
    assert validate_label(lb, NOW, LIM) is None
    lb.observed_at.FromSeconds(int(NOW - 120))
    assert validate_label(lb, NOW, LIM) == "observed_at: earlier than label_time"
    lb.ClearField("observed_at")
    lb.kind = label_pb2.LABEL_KIND_UNSPECIFIED
    assert validate_label(lb, NOW, LIM) == "kind: required"


def test_every_declared_action_is_accepted():
    for name, value in user_event_pb2.Action.items():
        if value == 0:
            continue
        assert validate_event(event("u", action=value), time.time(), LIM) is None, name
