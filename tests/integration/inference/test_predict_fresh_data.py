"""Predict uses the user's fresh Feast features and only that user's chunks, and
every answer lands on the predictions topic (request_id = idempotency key)."""

from __future__ import annotations

import uuid
from typing import Any

from inference.app import Service
from mlmesh.events.v1 import prediction_made_pb2
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.testing.kafka import consume_all
from mlmesh.workload.feast_repo import push_online


def test_predict_with_fresh_features_and_own_chunks(inference_env: Any, chunks: Any,
                                                    service: Service) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    push_online(inference_env.store, alice, {"event_count_5m": 42, "amount_sum_5m": 1234.5,
                                             "login_count_5m": 9})
    mine = inference_env.write_chunks(chunks, alice, ["my refund for the broken headphones",
                                                       "the checkout page keeps failing"])
    theirs = inference_env.write_chunks(chunks, bob, ["my refund for the broken headphones"])
    channel, stub = inference_env.stub(service)
    with channel:
        resp = stub.Predict(pb.PredictRequest(user_id=alice, text="refund headphones",
                                              request_id="req-" + alice), timeout=10)
    assert resp.request_id == "req-" + alice
    assert resp.model_name == "risk_scorer" and resp.model_version == "2"  # latest loaded
    feats = {f.name: f for f in resp.features}
    assert feats["event_count_5m"].value == 42 and not feats["event_count_5m"].defaulted
    assert 0 <= feats["event_count_5m"].age_ms < 60_000
    assert feats["amount_sum_5m"].value == 1234.5
    assert not resp.degraded, resp.degraded_reasons
    got = [c.chunk_id for c in resp.chunks]
    assert set(got) == set(mine) and not set(got) & set(theirs)
    assert resp.chunks[0].chunk_id == mine[0] and resp.chunks[0].similarity > 0.5
    assert {s.stage for s in resp.latency} >= {"features", "embed", "retrieve", "score", "total"}
    assert 0.0 <= resp.score <= 1.0

    service.deps.emitter.producer.flush(10)  # type: ignore[union-attr]
    records = [prediction_made_pb2.PredictionMade.FromString(v)
               for k, v in consume_all(inference_env.kafka, inference_env.predictions)
               if k == alice.encode()]
    mine_rec = [r for r in records if r.request_id == "req-" + alice]
    assert len(mine_rec) == 1
    assert mine_rec[0].features["event_count_5m"] == 42
    assert list(mine_rec[0].retrieved_chunk_ids) == got and mine_rec[0].route == "primary"


def test_unknown_user_gets_defaults_flagged(inference_env: Any, service: Service) -> None:
    channel, stub = inference_env.stub(service)
    with channel:
        resp = stub.Predict(pb.PredictRequest(user_id=f"nobody-{uuid.uuid4().hex}"), timeout=10)
    assert resp.degraded and resp.degraded_reasons[0].startswith("features_defaulted:")
    assert all(f.defaulted and f.age_ms == -1 and f.value == 0 for f in resp.features)
