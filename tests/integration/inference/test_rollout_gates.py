"""Progressive delivery with gates (#26), on two live inference replicas, real
Triton, Kafka and MLflow: a good candidate walks shadow -> 5 -> 25 -> 50 % and
becomes the primary; a deliberately bad one (its scores inverted) is rolled
back at its first gate with the reason in the rollout log, in MLflow and on the
alerts topic; one that ranks worse on the labels that arrive for its served
predictions is rolled back by the AUC gate; a candidate the serving contract
cannot feed is refused with nothing changed."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest
from confluent_kafka import Producer

from inference.app import Service, build
from inference.contract import FEATURE_NAMES
from inference.control import PolicyLog
from inference.delivery.controller import Outcome, Plan, RolloutRefused, check_candidate, roll_out
from inference.delivery.gates import GateConfig
from inference.training.registry import publish, versions
from inference.training.tracking import Registry
from inference.triton import TritonGateway
from mlmesh.events.v1 import alert_pb2, label_pb2
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.kafka.serde import decode
from mlmesh.kafka.topics import TopicSpec, ensure_topics
from mlmesh.testing.kafka import consume_all
from mlmesh.workload.feast_repo import push_online

CARD = {"features": list(FEATURE_NAMES), "note": "rollout gate test"}


def _publish(env: Any, registry: Registry, flip: bool) -> str:
    comp = env.triton.component
    registry.adopt(comp.model_repository, versions(comp.model_repository))
    onnx = env.scorer_onnx(flip=flip)
    _run_id, version = registry.log_training(
        card={**CARD, "data_window": {"labels_source": "test"}}, params={"flip": flip},
        metrics={"holdout_auc": 0.0 if flip else 1.0}, onnx=onnx, run_name="gate-test")
    publish(comp.model_repository, onnx, CARD, version=int(version))
    comp.load_model("risk_scorer")
    return version


@pytest.fixture
def mesh(inference_env: Any, mlflow_uri: str) -> Any:
    topic = f"t.model-rollout.{uuid.uuid4().hex[:8]}"
    labels = f"t.labels.{uuid.uuid4().hex[:8]}"
    ensure_topics(inference_env.kafka, [TopicSpec(topic, 1, config={"retention.ms": "-1"}),
                                        TopicSpec(labels, 3)])
    settings = inference_env.settings(
        routing_file=None, rollout_topic=topic, mlflow_uri=mlflow_uri, labels_topic=labels,
        model_repository=inference_env.triton.component.model_repository)
    replicas = [build(settings).start(), build(settings).start()]
    log = PolicyLog(inference_env.kafka, topic, "risk_scorer").start()
    registry = Registry(mlflow_uri)
    try:
        yield settings, replicas, log, registry
    finally:
        log.close()
        for r in replicas:
            r.stop(0)
        # the controller restricted Triton's versions: every published one again
        # for the tests that come after (they share this Triton)
        inference_env.triton.component.load_model("risk_scorer")


Answered = Callable[[str], None]


def _traffic(env: Any, replicas: list[Service], stop: threading.Event,
             users: list[str], answered: Answered | None) -> None:
    stubs = [env.stub(r) for r in replicas]
    i = 0
    while not stop.is_set():
        _channel, stub = stubs[i % 2]
        user = users[i % len(users)]
        with contextlib.suppress(grpc.RpcError):  # the gates count failures, not us
            stub.Predict(pb.PredictRequest(user_id=user), timeout=5)
            if answered is not None:
                answered(user)
        i += 1
    for channel, _stub in stubs:
        channel.close()


def _rollout(env: Any, mesh: Any, version: str, plan: Plan, users: list[str] | None = None,
             answered: Answered | None = None) -> tuple[Outcome, list[Any]]:
    settings, replicas, log, registry = mesh
    events: list[Any] = []
    stop = threading.Event()
    users = users or [f"g-{i}-{uuid.uuid4().hex[:4]}" for i in range(400)]
    driver = threading.Thread(target=_traffic, args=(env, replicas, stop, users, answered),
                              daemon=True)
    driver.start()
    try:  # what `mlmesh rollout start` runs: checks, then the walk with Triton following
        out = roll_out(settings, log, version, plan, registry,
                       on_event=lambda kind, data: events.append((kind, data)))
    finally:
        stop.set()
        driver.join(10)
    return out, events


def _loaded(settings: Any) -> list[str]:
    triton = TritonGateway(settings.triton_grpc, settings.scorer_model,
                           settings.embedding_model)
    try:
        return triton.scorer_versions()
    finally:
        triton.close()


def _tags(mlflow_uri: str, version: str) -> dict[str, str]:
    q = urllib.parse.urlencode({"name": "risk_scorer", "version": version})
    with urllib.request.urlopen(f"{mlflow_uri}/api/2.0/mlflow/model-versions/get?{q}") as r:
        mv = json.loads(r.read())["model_version"]
    return {t["key"]: t["value"] for t in mv.get("tags", [])}


# latency limits wide: two replicas, Triton and the traffic share 2 cores here;
# the latency gate's logic is unit-tested (test_rollout_gates_unit)
PLAN = Plan(hold_s=1.0, max_hold_s=60.0, tick_s=0.1,
            gates=GateConfig(min_requests=20, max_p99_ratio=3.0, p99_slack_ms=100.0))


def test_a_good_candidate_reaches_primary_through_every_step(
        inference_env: Any, mesh: Any, mlflow_uri: str) -> None:
    _settings, replicas, log, registry = mesh
    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))
    good = _publish(inference_env, registry, flip=False)
    out, events = _rollout(inference_env, mesh, good, PLAN)
    assert out.promoted, (out.reason, out.steps)
    assert [s["step"] for s in out.steps] == ["shadow", "canary 5%", "canary 25%",
                                              "canary 50%"]
    assert all(s["candidate_requests"] >= 20 and s["score_psi"] < 0.25 for s in out.steps)
    kinds = [kind for kind, _data in events]
    assert kinds.count("step") == kinds.count("passed") == 4 and kinds[-1] == "promoted"
    policy = log.load()
    assert policy is not None and (policy.primary, policy.previous) == (good, "1")
    deadline = time.monotonic() + 10
    while {r.router.current().primary for r in replicas} != {good}:
        assert time.monotonic() < deadline, "replicas did not follow the promotion"
        time.sleep(0.1)
    assert _tags(mlflow_uri, good)["mlmesh.stage"] == "primary"
    # Triton follows: the new primary and the one before it (instant rollback)
    assert _loaded(mesh[0]) == sorted({"1", good}, key=int)
    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))


def test_a_bad_candidate_is_rolled_back_at_its_first_gate(
        inference_env: Any, mesh: Any, mlflow_uri: str) -> None:
    settings, _replicas, log, registry = mesh
    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))
    bad = _publish(inference_env, registry, flip=True)
    out, _events = _rollout(inference_env, mesh, bad, PLAN)
    assert not out.promoted and out.step == "shadow", (out.step, out.reason)
    assert "PSI" in out.reason
    policy = log.load()
    assert policy is not None and policy.primary == "1" and bad not in policy.versions()
    last = policy.history[-1]
    assert last["action"] == "rollback" and "PSI" in last["reason"]
    tags = _tags(mlflow_uri, bad)
    assert tags["mlmesh.stage"] == "rolled_back" and "PSI" in tags["mlmesh.rollback_reason"]
    assert bad not in _loaded(settings) and "1" in _loaded(settings)  # unloaded
    alerts = [decode(alert_pb2.Alert, value)
              for _key, value in consume_all(inference_env.kafka, settings.alerts_topic,
                                             timeout=10)]
    assert any(a.rule == "rollout_gate" and a.labels["model_version"] == bad
               and "PSI" in a.message for a in alerts)


def test_a_candidate_that_ranks_worse_on_arriving_labels_is_rolled_back_by_auc(
        inference_env: Any, mesh: Any, mlflow_uri: str) -> None:
    settings, _replicas, log, registry = mesh
    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))
    # users whose served features separate the classes: the label is event_count_5m > 25,
    # what the primary learnt; the candidate learnt the opposite
    rng = np.random.default_rng(7)
    truth: dict[str, bool] = {}
    for i in range(120):
        user, count = f"auc-{i}-{uuid.uuid4().hex[:4]}", float(rng.uniform(0, 50))
        push_online(inference_env.store, user, {"event_count_5m": count})
        truth[user] = count > 25
    bad = _publish(inference_env, registry, flip=True)
    producer = Producer({"bootstrap.servers": inference_env.kafka})
    answers: dict[str, int] = dict.fromkeys(truth, 0)

    def label(user: str) -> None:
        # the outcome becomes known a while after the user's first answers:
        # at the 10th, once the shadow is scoring too
        answers[user] += 1
        if answers[user] != 10:
            return
        msg = label_pb2.Label(label_id=f"l-{user}", user_id=user, value=float(truth[user]),
                              kind=label_pb2.LABEL_KIND_FRAUD)
        msg.label_time.GetCurrentTime()
        msg.observed_at.GetCurrentTime()
        producer.produce(settings.labels_topic, msg.SerializeToString(), key=user)
        producer.poll(0)

    # PSI off: only the labels can tell this candidate apart
    plan = Plan(hold_s=30.0, max_hold_s=60.0, tick_s=0.1,
                gates=GateConfig(min_requests=20, max_p99_ratio=3.0, p99_slack_ms=100.0,
                                 max_psi=1e9, min_labels=60))
    out, _events = _rollout(inference_env, mesh, bad, plan, list(truth), label)
    assert producer.flush(10) == 0
    assert not out.promoted and out.step == "shadow", (out.step, out.reason, out.steps)
    assert out.reason.startswith("AUC"), out.reason
    figures = out.steps[-1]
    assert figures["candidate_auc"] < 0.2 < 0.8 < figures["primary_auc"], figures
    assert figures["candidate_labelled"] >= 60 and figures["primary_labelled"] >= 60
    policy = log.load()
    assert policy is not None and policy.primary == "1" and bad not in policy.versions()
    assert "AUC" in policy.history[-1]["reason"]
    assert "AUC" in _tags(mlflow_uri, bad)["mlmesh.rollback_reason"]


def test_a_candidate_the_contract_cannot_feed_is_refused_untouched(
        inference_env: Any, mesh: Any) -> None:
    settings, _replicas, log, registry = mesh
    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0, shadow=""))
    before = log.load()
    comp = inference_env.triton.component
    wrong = publish(comp.model_repository, inference_env.scorer_onnx(flip=False),
                    {"features": list(FEATURE_NAMES)[:-1]}).name
    triton = TritonGateway(settings.triton_grpc, settings.scorer_model,
                           settings.embedding_model)
    try:
        with pytest.raises(RolloutRefused, match="disagrees with the feature contract"):
            check_candidate(wrong, settings, triton, None)
        with pytest.raises(RolloutRefused, match="unknown"):
            check_candidate("9999", settings, triton, None)
        with pytest.raises(RolloutRefused, match="not registered in MLflow"):
            check_candidate(wrong, settings, triton, registry)
    finally:
        triton.close()
    assert log.load() == before
