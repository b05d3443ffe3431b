"""Rate limits that hold across replicas (#28): two ingest replicas with their
counters in one real Redis (MLMESH_RATE_LIMIT_STORAGE) accept, between them,
only as many of one user's events as the limit allows; with per-process
counters (memory://) each replica accepts that many on its own."""

from __future__ import annotations

import uuid

import grpc
import pytest
from pydantic import SecretStr

from mlmesh.events.v1 import user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb


def _events(user: str, n: int, tag: str) -> pb.PublishRequest:
    out = []
    for i in range(n):
        msg = user_event_pb2.UserEvent(event_id=f"{tag}-{i}", user_id=user,
                                       action=user_event_pb2.ACTION_VIEW)
        msg.event_time.GetCurrentTime()
        out.append(msg)
    return pb.PublishRequest(events=out)


@pytest.mark.parametrize("storage,fleet_limit", [("redis", 20), ("memory://", 40)])
def test_replicas_share_one_limit_through_redis(ingest_factory, redis_url, storage,
                                                fleet_limit):
    user = f"rl-{uuid.uuid4().hex[:6]}"
    uri = redis_url if storage == "redis" else storage
    # 20 events per 20-second window: every call below falls in one window
    shared = dict(user_rate=1.0, user_burst=20.0, rate_limit_storage=SecretStr(uri))
    replicas = [ingest_factory(partitions=1, **shared), ingest_factory(partitions=1, **shared)]
    accepted = 0
    for round_ in range(3):
        for n, ing in enumerate(replicas):
            try:
                resp = ing.stub.Publish(_events(user, 8, f"{round_}-{n}"), timeout=10)
            except grpc.RpcError as exc:  # every item throttled: the call is refused
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "over its rate limit" in (exc.details() or "")
                continue
            accepted += resp.accepted
    assert accepted == min(48, fleet_limit)
