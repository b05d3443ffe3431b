"""When a downstream consumer group lags past the threshold, ingest refuses
with RESOURCE_EXHAUSTED (gRPC) / 429 + Retry-After (HTTP); when the group
catches up, ingest accepts again. Nothing accepted is dropped meanwhile."""

from __future__ import annotations

import time

import grpc
import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.testing.builders import event


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_lag_over_threshold_refuses_then_releases(ingest_factory, kafka_bootstrap):
    ing = ingest_factory(partitions=1, lag_threshold=50, lag_interval_s=0.3,
                         lag_groups="slow-consumer")
    topic = ing.topics["events"]
    resp = ing.stub.Publish(pb.PublishRequest(events=[event(f"u{i}", i) for i in range(80)]),
                            timeout=30)
    assert resp.accepted == 80
    slow = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "slow-consumer",
                     "enable.auto.commit": False})
    slow.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)  # lag = 80
    _wait(lambda: ing.app.gate.refusing)

    with pytest.raises(grpc.RpcError) as info:
        ing.stub.Publish(pb.PublishRequest(events=[event("late", 0)]), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "lagging" in info.value.details()
    http = httpx.post(f"{ing.http_url}/v1/events", json={"events": [
        {"event_id": "e-http", "user_id": "h", "action": "ACTION_VIEW",
         "event_time": "2026-01-01T00:00:00Z"}]}, timeout=10)
    assert http.status_code == 429 and int(http.headers["Retry-After"]) >= 1

    slow.commit(offsets=[TopicPartition(topic, 0, 80)], asynchronous=False)  # caught up
    slow.close()
    _wait(lambda: not ing.app.gate.refusing)
    resp = ing.stub.Publish(pb.PublishRequest(events=[event("after", 0)]), timeout=10)
    assert resp.accepted == 1
