"""Rollouts on the live service: canary / shadow switch without restart, and an
Alert injected on the alerts topic rolls the canary back within seconds."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Producer

from inference.app import Service
from mlmesh.events.v1 import alert_pb2, prediction_made_pb2
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.testing.kafka import consume_all


def test_alert_rolls_the_canary_back_within_seconds(inference_env: Any,
                                                    service: Service) -> None:
    store = service.router.store
    store.update(lambda p: p.set(primary="1", canary="2", canary_share=1.0, shadow=""))
    user = f"r-{uuid.uuid4().hex[:6]}"
    channel, stub = inference_env.stub(service)
    with channel:
        deadline = time.monotonic() + 5
        while stub.Predict(pb.PredictRequest(user_id=user), timeout=10).route != "canary":
            assert time.monotonic() < deadline, "policy change not picked up"
            time.sleep(0.05)
        before = stub.Predict(pb.PredictRequest(user_id=user), timeout=10)
        assert (before.model_version, before.route) == ("2", "canary")

        alert = alert_pb2.Alert(alert_id=uuid.uuid4().hex, rule="model_error_rate",
                                severity=alert_pb2.SEVERITY_CRITICAL, metric="error_rate",
                                value=0.05, threshold=0.01, labels={"model_version": "2"},
                                message="error rate 5% > 1%")
        alert.raised_at.GetCurrentTime()
        producer = Producer({"bootstrap.servers": inference_env.kafka})
        producer.produce(inference_env.alerts, alert.SerializeToString(), key=alert.rule)
        assert producer.flush(10) == 0
        sent = time.monotonic()
        while True:
            after = stub.Predict(pb.PredictRequest(user_id=user), timeout=10)
            if after.model_version == "1":
                break
            assert time.monotonic() - sent < 10, "no rollback within 10 s"
            time.sleep(0.05)
        flipped_s = time.monotonic() - sent
    assert after.route == "primary" and flipped_s < 10
    policy = store.load()
    assert policy is not None and policy.canary == "" and policy.history[-1]["action"] == \
        "rollback"


def test_shadow_is_scored_and_logged_not_served(inference_env: Any, service: Service) -> None:
    service.router.store.update(lambda p: p.set(primary="1", canary="", canary_share=0.0,
                                                shadow="2"))
    service.router.reload(force=True)
    user = f"sh-{uuid.uuid4().hex[:6]}"
    channel, stub = inference_env.stub(service)
    with channel:
        resp = stub.Predict(pb.PredictRequest(user_id=user, request_id=f"q-{user}"),
                            timeout=10)
    assert resp.model_version == "1" and resp.route == "primary"
    deadline = time.monotonic() + 20
    while True:
        service.deps.emitter.producer.flush(10)  # type: ignore[union-attr]
        recs = [prediction_made_pb2.PredictionMade.FromString(v)
                for k, v in consume_all(inference_env.kafka, inference_env.predictions)
                if k == user.encode()]
        if len(recs) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    routes = {r.route: r for r in recs}
    assert set(routes) == {"primary", "shadow"}
    assert routes["shadow"].model_version == "2" and routes["shadow"].request_id == f"q-{user}"
    assert routes["shadow"].score != routes["primary"].score
