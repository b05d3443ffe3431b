"""Validation rules: each rule rejects what it should, with a clear reason; a
valid record's verdict is its own time in epoch ms (its Kafka timestamp)."""

from __future__ import annotations

import random
import time

import pytest

from ingest.validation import (
    Limits,
    document_rules,
    event_rules,
    label_rules,
    validate_document,
    validate_event,
    validate_label,
)
from mlmesh.events.v1 import document_pb2, label_pb2, user_event_pb2
from mlmesh.testing.builders import event

LIM = Limits()
RULES = {validate_event: event_rules, validate_document: document_rules,
         validate_label: label_rules}


def check(validate, msg, now, limits=LIM):
    """The verdict as ingest computes it (for events the C scan first, where
    built), and the same verdict from the rules alone, given the size of the
    encoding and given a size that rules nothing out."""
    encoded = msg.SerializeToString()
    verdict = validate(msg, encoded, now, limits)
    rules = RULES[validate]
    assert verdict == rules(msg, len(encoded), now, limits) == rules(msg, 10**9, now, limits)
    return verdict


def test_a_good_event_passes_with_its_event_time():
    e = event("user-1", amount=9.5)
    assert check(validate_event, e, time.time()) == e.event_time.ToMilliseconds()


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
    problem = check(validate_event, e, time.time())
    assert isinstance(problem, str) and problem.startswith(reason), problem


def test_document_rules():
    NOW = time.time()
    d = document_pb2.Document(doc_id="d1", user_id="u1", text="hello", source="chat")
    d.created_at.FromSeconds(int(NOW))
    assert check(validate_document, d, NOW) == int(NOW) * 1000
    d.text = "   "
    assert check(validate_document, d, NOW) == "text: empty"
    d.text = "é" * 40_000  # 80,000 bytes in UTF-8
    assert str(check(validate_document, d, NOW)).startswith("text: 80000 bytes")


def test_label_rules():
    NOW = time.time()
    lb = label_pb2.Label(label_id="l1", user_id="u1", kind=label_pb2.LABEL_KIND_FRAUD, value=1)
    lb.label_time.FromSeconds(int(NOW - 60))
    assert check(validate_label, lb, NOW) == int(NOW - 60) * 1000
    lb.observed_at.FromSeconds(int(NOW - 120))
    assert check(validate_label, lb, NOW) == "observed_at: earlier than label_time"
    lb.ClearField("observed_at")
    lb.kind = label_pb2.LABEL_KIND_UNSPECIFIED
    assert check(validate_label, lb, NOW) == "kind: required"


def test_every_declared_action_is_accepted():
    for name, value in user_event_pb2.Action.items():
        if value == 0:
            continue
        assert isinstance(check(validate_event, event("u", action=value), time.time()), int), name


def test_the_size_bound_never_hides_a_violation():
    rng = random.Random(7)
    tight = Limits(max_attributes=3, max_short_field=8)
    seen = set()
    for _ in range(3000):
        e = event(rng.choice(["u", "user-" + "x" * rng.randint(0, 40)]))
        e.event_id = "e" * rng.randint(1, 60)
        e.item_id = "i" * rng.choice([0, 3, 8, 9, 30])
        e.attributes.clear()
        for k in range(rng.choice([0, 1, 3, 4, 6])):
            e.attributes["k" * rng.choice([1, 2, 64, 65]) + str(k)] = "v" * rng.choice([0, 1, 1025])
        verdict = check(validate_event, e, time.time(), tight)
        seen.add(verdict.split(":")[0] if isinstance(verdict, str) else "ok")
    assert seen == {"ok", "item_id/session_id", "attributes"}
