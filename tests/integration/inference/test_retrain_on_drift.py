"""Retrain on drift (#26) on real Kafka, MLflow and Triton: one drift episode
(two features firing, a repeat, then both resolved) produces exactly one
training run in MLflow and one shadow deployment in the rollout log."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from inference.control import PolicyLog
from inference.delivery.controller import Controller, Plan
from inference.delivery.retrain import DriftRetrainer
from inference.training import pipeline
from inference.training.registry import versions
from inference.training.tracking import Registry
from mlmesh.events.v1 import alert_pb2
from mlmesh.kafka.topics import TopicSpec, ensure_topics


def _runs(mlflow_uri: str) -> int:
    url = f"{mlflow_uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=risk_scorer"
    with urllib.request.urlopen(url, timeout=10) as resp:
        experiment = json.loads(resp.read())["experiment"]["experiment_id"]
    req = urllib.request.Request(f"{mlflow_uri}/api/2.0/mlflow/runs/search",
                                 data=json.dumps({"experiment_ids": [experiment],
                                                  "max_results": 1000}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return len(json.loads(resp.read()).get("runs", []))


def _alert(alert_id: str, feature: str, resolved: bool = False,
           rule: str = "feature_drift") -> bytes:
    a = alert_pb2.Alert(alert_id=alert_id, rule=rule, metric="psi", value=0.4, threshold=0.2,
                        severity=alert_pb2.SEVERITY_WARNING, resolved=resolved,
                        labels={"feature": feature, "model_version": "1"},
                        message=f"{rule}: psi=0.4 > 0.2 [feature={feature}]")
    a.raised_at.GetCurrentTime()
    return a.SerializeToString()


def test_one_drift_episode_one_retrain_one_shadow(inference_env: Any, mlflow_uri: str,
                                                  tmp_path: Path) -> None:
    from mlmesh.workload.feast_repo import workload_training_data

    suffix = uuid.uuid4().hex[:8]
    alerts, rollout = f"t.alerts.drift.{suffix}", f"t.model-rollout.{suffix}"
    ensure_topics(inference_env.kafka, [TopicSpec(alerts, 1), TopicSpec(rollout, 1)])
    comp = inference_env.triton.component
    repo = comp.model_repository
    registry = Registry(mlflow_uri)
    registry.adopt(repo, versions(repo))
    settings = inference_env.settings(routing_file=None, rollout_topic=rollout,
                                      mlflow_uri=mlflow_uri, model_repository=repo)
    log = PolicyLog(inference_env.kafka, rollout, "risk_scorer").start()
    log.update(lambda p: p.set(primary="1"))
    runs_before = _runs(mlflow_uri)

    def retrain(reason: str) -> Any:
        store, labels = workload_training_data(tmp_path / f"repo-{uuid.uuid4().hex[:6]}",
                                               users=200, events=8000, seed=5)
        report = pipeline.run(store, labels, repo, labels_source=f"workload ({reason})",
                              triton_http=comp.http_url, registry=registry, champion="1")
        plan = Plan(hold_s=0.5, max_hold_s=1.5, tick_s=0.1)  # no traffic: it stops there
        return Controller(settings, log, plan, registry).run(report.card["version"])

    watcher = DriftRetrainer(inference_env.kafka, alerts, retrain,
                             group=f"retrainer-{suffix}")
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    producer = Producer({"bootstrap.servers": inference_env.kafka})
    try:
        deadline = time.monotonic() + 30
        while watcher.seen == 0:  # positioned at the end: a first alert arrives
            assert time.monotonic() < deadline, "the retrainer never read an alert"
            producer.produce(alerts, _alert("warm", "-", rule="consumer_lag_warning"))
            producer.flush(10)
            time.sleep(0.5)
        for value in (_alert("d1", "amount_sum_5m"), _alert("d2", "event_count_5m"),
                      _alert("d1", "amount_sum_5m"), _alert("d1", "amount_sum_5m", True),
                      _alert("d2", "event_count_5m", True)):
            producer.produce(alerts, value, key=b"feature_drift")
        assert producer.flush(10) == 0
        deadline = time.monotonic() + 180
        while not watcher.runs:
            assert time.monotonic() < deadline, "no retrain finished within 180 s"
            time.sleep(0.5)
        time.sleep(2)  # anything the rest of the episode would (wrongly) start
    finally:
        watcher.stop.set()
        thread.join(60)
        log.sync()
        history = log.history()
        log.close()
    assert watcher.episodes == 1 and len(watcher.runs) == 1
    assert _runs(mlflow_uri) == runs_before + 1
    new = watcher.runs[0].version
    shadows = [e for e in history if e.policy.history
               and e.policy.history[-1]["action"] == "rollout shadow"]
    assert [e.policy.shadow for e in shadows] == [new]
