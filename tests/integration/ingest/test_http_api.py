"""POST /v1/events|documents|labels with the proto3 JSON mapping."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx

from mlmesh.events.v1 import document_pb2, user_event_pb2
from mlmesh.testing.kafka import consume_all


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def test_http_events_accept_reject_and_status_codes(ingest_factory, kafka_bootstrap):
    ing = ingest_factory(partitions=2)
    url = f"{ing.http_url}/v1/events"
    good = {"event_id": "e1", "user_id": "alice", "action": "ACTION_PURCHASE",
            "amount": 12.5, "event_time": _now_iso(), "device": "DEVICE_IOS"}
    r = httpx.post(url, json={"events": [good]}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1

    mixed = [dict(good, event_id="e2"), {"event_id": "e3", "user_id": "bob",
                                         "action": "ACTION_FLY", "event_time": _now_iso()},
             dict(good, event_id="e4", user_id="")]
    r = httpx.post(url, json=mixed, timeout=10)
    assert r.status_code == 207
    body = r.json()
    assert [x["status"] for x in body["results"]] == [
        "PUBLISH_STATUS_ACCEPTED", "PUBLISH_STATUS_INVALID", "PUBLISH_STATUS_INVALID"]
    assert "ACTION_FLY" in body["results"][1]["error"]
    assert body["results"][2]["error"] == "user_id: required"

    r = httpx.post(url, json=[{"event_id": "e5"}], timeout=10)
    assert r.status_code == 422
    r = httpx.post(url, content=b"{not json", timeout=10)
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = httpx.post(f"{ing.http_url}/v1/nothing", json={}, timeout=10)
    assert r.status_code == 404

    events = {user_event_pb2.UserEvent.FromString(v).event_id
              for _k, v in consume_all(kafka_bootstrap, ing.topics["events"])}
    assert events == {"e1", "e2"}
    assert len(consume_all(kafka_bootstrap, ing.topics["events"] + ".dlq")) == 3


def test_http_documents_and_health(ingest_factory, kafka_bootstrap):
    ing = ingest_factory(partitions=1)
    doc = {"doc_id": "d1", "user_id": "alice", "text": "call me at +1 415 555 0100",
           "source": "chat", "created_at": _now_iso()}
    r = httpx.post(f"{ing.http_url}/v1/documents", json=doc, timeout=10)
    assert r.status_code == 200, r.text
    (_k, v), = consume_all(kafka_bootstrap, ing.topics["documents"])
    assert document_pb2.Document.FromString(v).text == doc["text"]
    deadline = time.monotonic() + 10
    while httpx.get(f"{ing.http_url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert httpx.get(f"{ing.http_url}/healthz", timeout=5).json() == {"status": "ok"}
