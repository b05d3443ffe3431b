"""Ingest acts only for the users of the caller's tenant (#28), over gRPC and
HTTP, with keys made by the real `mlmesh keys` CLI on the real broker's key log:
a batch naming any user outside the key's scope is PERMISSION_DENIED (HTTP 403)
and nothing of it reaches Kafka; no key or a made-up one is UNAUTHENTICATED
(HTTP 401, before the body is read); a revoked key stops working within seconds."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import grpc
import httpx
import pytest

from mlmesh.auth.authz import DENIED
from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.kafka import consume_all
from mlmesh.testing.keys import key_topic, keys_cli


def _event(event_id: str, user: str) -> dict[str, object]:
    return {"event_id": event_id, "user_id": user, "action": "ACTION_VIEW",
            "event_time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}


def _proto(event_id: str, user: str) -> user_event_pb2.UserEvent:
    msg = user_event_pb2.UserEvent(event_id=event_id, user_id=user,
                                   action=user_event_pb2.ACTION_VIEW)
    msg.event_time.GetCurrentTime()
    return msg


def test_ingest_publishes_only_for_the_keys_tenant(ingest_factory, kafka_bootstrap):
    topic = key_topic(kafka_bootstrap)
    ing = ingest_factory(partitions=2, auth=True, keys_topic=topic)
    acme = keys_cli(kafka_bootstrap, topic, "create", "--tenant", "acme", "--users", "acme-*")
    url = f"{ing.http_url}/v1/events"
    bearer = {"Authorization": f"Bearer {acme['key']}"}

    deadline = time.monotonic() + 10  # the service follows the key log
    while httpx.post(url, json=[_event("h1", "acme-1")], headers=bearer,
                     timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the new key did not reach ingest"
        time.sleep(0.1)
    r = httpx.post(url, json=[_event("h2", "acme-2"), _event("h3", "globex-1")],
                   headers=bearer, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == DENIED
    r = httpx.post(url, json=[_event("h4", "acme-1")], timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = httpx.post(url, content=b"{not json", headers={"x-api-key": "mlk_made_up"}, timeout=10)
    assert r.status_code == 401  # refused before the body is read

    md = [("x-api-key", acme["key"])]
    ok = ing.stub.Publish(pb.PublishRequest(events=[_proto("g1", "acme-3")]), metadata=md,
                          timeout=10)
    assert ok.accepted == 1
    with pytest.raises(grpc.RpcError) as denied:
        ing.stub.Publish(pb.PublishRequest(events=[_proto("g2", "acme-3"),
                                                   _proto("g3", "globex-9")]),
                         metadata=md, timeout=10)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert denied.value.details() == DENIED
    with pytest.raises(grpc.RpcError) as unauth:
        ing.stub.Publish(pb.PublishRequest(events=[_proto("g4", "acme-3")]), timeout=10)
    assert unauth.value.code() == grpc.StatusCode.UNAUTHENTICATED

    keys_cli(kafka_bootstrap, topic, "revoke", "--id", acme["key_id"])
    deadline = time.monotonic() + 5
    while httpx.post(url, json=[_event("h5", "acme-1")], headers=bearer,
                     timeout=10).status_code != 401:
        assert time.monotonic() < deadline, "the revocation did not reach ingest in 5 s"
        time.sleep(0.05)

    published = {user_event_pb2.UserEvent.FromString(v).event_id
                 for _k, v in consume_all(kafka_bootstrap, ing.topics["events"])}
    # nothing of a denied batch, not even its good items (h5: sent while revoking)
    assert published - {"h5"} == {"h1", "g1"}
    assert consume_all(kafka_bootstrap, ing.topics["events"] + ".dlq", timeout=2) == []
