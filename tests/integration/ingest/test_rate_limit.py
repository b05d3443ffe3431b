"""The per-user token bucket engages (THROTTLED per event, RESOURCE_EXHAUSTED
with a retry hint when the whole call is over budget) and releases."""

from __future__ import annotations

import time

import grpc
import pytest

from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event


def test_user_rate_limit_engages_and_releases(ingest_factory):
    ing = ingest_factory(partitions=1, user_rate=0.5, user_burst=10.0)
    resp = ing.stub.Publish(pb.PublishRequest(
        events=[event("hot", i) for i in range(15)] + [event("calm", 0)]), timeout=10)
    statuses = [r.status for r in resp.results]
    assert statuses[:10] == [pb.PUBLISH_STATUS_ACCEPTED] * 10
    assert statuses[10:15] == [pb.PUBLISH_STATUS_THROTTLED] * 5
    assert "over its rate limit" in resp.results[10].error
    assert statuses[15] == pb.PUBLISH_STATUS_ACCEPTED  # other users are not affected

    with pytest.raises(grpc.RpcError) as info:
        ing.stub.Publish(pb.PublishRequest(events=[event("hot", 99)] * 1), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    md = dict(info.value.trailing_metadata() or ())
    assert float(md["retry-after-ms"]) > 0

    time.sleep(float(md["retry-after-ms"]) / 1000 + 2.1)  # 0.5 token/s: >= 1 token back
    resp = ing.stub.Publish(pb.PublishRequest(events=[event("hot", 100)]), timeout=10)
    assert resp.accepted == 1
