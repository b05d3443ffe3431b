"""The model lifecycle's figures users feel (#26), on real servers: Kafka,
tritonserver, MLflow, a Feast repo with features for every user, and two
inference replicas following the rollout log, under closed-loop Predict load.

* ``registered_to_first_shadow_s``: a version registered in MLflow -> its first
  shadow answer on the predictions topic (publish to the repository, Triton
  load, the candidate checks, the shadow step through the rollout log, the
  replicas following it, the first request it scores);
* ``breach_to_zero_traffic_s``: a canary that fails every request (a model whose
  input width is not the contract's) -> from the served prediction that makes
  the error gate breach (its Kafka timestamp) to the moment no replica routes
  to it any more (target <= 5 s);
* ``predict_p99_log_vs_file``: Predict p99 of a replica following the rollout
  log against one reading a policy file, same run, alternating rounds (target:
  no measurable change, ratio <= 1.10).

    python -m bench.rollout [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench.common import broker, percentiles, ratio, write


def _scorer(width: int, seed: int = 0) -> bytes:
    from sklearn.linear_model import LogisticRegression

    from inference.training.model import to_onnx

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 50, size=(400, width)).astype(np.float32)
    return to_onnx(LogisticRegression(max_iter=500).fit(x, (x[:, 0] > 25).astype(int)), width)


class Load:
    """Closed-loop Predict against the replicas, round robin over users."""

    def __init__(self, addrs: list[str], users: list[str]) -> None:
        from mlmesh.inference.v1 import inference_service_pb2 as pb
        from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc

        self.pb, self.users = pb, users
        self.channels = [grpc.insecure_channel(a) for a in addrs]
        self.stubs = [pb_grpc.InferenceServiceStub(c) for c in self.channels]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            with contextlib.suppress(grpc.RpcError):
                self.stubs[i % len(self.stubs)].Predict(
                    self.pb.PredictRequest(user_id=self.users[i % len(self.users)]), timeout=5)
            i += 1

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        for c in self.channels:
            c.close()


def _first(kafka: str, topic: str, since_ms: int, match: Any, count: int = 1,
           timeout: float = 120.0) -> int:
    """Kafka timestamp of the ``count``-th PredictionMade at/after ``since_ms`` matching."""
    from confluent_kafka import Consumer, TopicPartition

    from mlmesh.events.v1 import prediction_made_pb2

    c = Consumer({"bootstrap.servers": kafka, "group.id": f"b-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    found = c.offsets_for_times([TopicPartition(topic, p, since_ms) for p in parts], timeout=10)
    c.assign([tp if tp.offset >= 0 else TopicPartition(topic, tp.partition, -1) for tp in found])
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for msg in c.consume(500, 0.2):
                value = msg.value()
                if msg.error() or value is None:
                    continue
                rec = prediction_made_pb2.PredictionMade.FromString(value)
                if match(rec):
                    seen.append(msg.timestamp()[1])
            if len(seen) >= count:
                return sorted(seen)[count - 1]
    finally:
        c.close()
    raise TimeoutError("no matching prediction")


def run(rounds: int) -> dict[str, Any]:
    from inference.app import build
    from inference.contract import FEATURE_NAMES
    from inference.control import PolicyLog
    from inference.delivery.controller import Controller, Plan, check_candidate
    from inference.delivery.gates import GateConfig
    from inference.settings import Settings
    from inference.training.registry import publish
    from inference.training.tracking import Registry
    from inference.triton import TritonGateway
    from mlmesh.kafka.topics import ensure_topics, load_topics
    from mlmesh.localstack.base import free_port
    from mlmesh.localstack.mlflow import MlflowComponent
    from mlmesh.localstack.triton import TritonComponent
    from mlmesh.workload.feast_repo import make_feast_repo, push_online

    card = {"features": list(FEATURE_NAMES), "note": "bench"}
    out: dict[str, Any] = {"registered_to_first_shadow_s": [], "breach_to_zero_traffic_s": [],
                           "breach_to_rollback_written_s": []}
    with broker() as kafka, tempfile.TemporaryDirectory(prefix="mlmesh-rollout-") as tmp:
        state = Path(tmp)
        ensure_topics(kafka, load_topics())
        repo = state / "triton" / "model_repository"
        publish(repo, _scorer(len(FEATURE_NAMES)), card, 1)
        triton = TritonComponent(state, http_port=free_port(), grpc_port=free_port(),
                                 metrics_port=free_port(), models=("risk_scorer",),
                                 name="triton-bench")
        mlflow = MlflowComponent(state, port=free_port(), name="mlflow-bench")
        triton.start(timeout=180)
        mlflow.start(timeout=120)
        store = make_feast_repo(state / "feast")
        rng = np.random.default_rng(1)
        users = [f"b{i:04d}" for i in range(300)]
        for u in users:
            push_online(store, u, {"event_count_5m": int(rng.integers(0, 50)),
                                   "amount_sum_5m": float(rng.uniform(0, 500))})
        registry = Registry(mlflow.uri)
        registry.adopt(repo, [1])
        settings = Settings(grpc_port=0, metrics_port=0, feast_repo=state / "feast",
                            milvus_uri=f"http://127.0.0.1:{free_port()}",
                            triton_grpc=triton.grpc_url, kafka_bootstrap=kafka,
                            state_dir=state, mlflow_uri=mlflow.uri, model_repository=repo,
                            cache_size=0, watch_alerts=False, log_level="WARNING")
        log = PolicyLog(kafka, settings.rollout_topic, "risk_scorer").start()
        log.update(lambda p: p.set(primary="1"))
        replicas = [build(settings).start() for _ in range(2)]
        gateway = TritonGateway(triton.grpc_url, "risk_scorer", "minilm_embedding")
        plan = Plan(hold_s=1.0, max_hold_s=60.0, tick_s=0.05,
                    gates=GateConfig(min_requests=20, max_p99_ratio=3.0, p99_slack_ms=100.0))
        try:
            with Load([f"127.0.0.1:{r.port}" for r in replicas], users):
                for i in range(rounds):
                    # a good version: registered -> its first shadow answer
                    onnx = _scorer(len(FEATURE_NAMES))
                    _run_id, version = registry.log_training(
                        card={**card, "data_window": {}}, params={"bench": i}, metrics={},
                        onnx=onnx, run_name="bench-good")
                    t0 = time.time()
                    publish(repo, onnx, card, int(version))
                    triton.load_model("risk_scorer")
                    check_candidate(version, settings, gateway, registry)
                    ctl = Controller(settings, log, Plan(**{**plan.__dict__, "shares": ()}),
                                     registry, triton=gateway)
                    worker = threading.Thread(target=ctl.run, args=(version,))
                    worker.start()
                    first = _first(kafka, settings.predictions_topic, int(t0 * 1000),
                                   lambda r, v=version: r.route == "shadow"
                                   and r.model_version == v)
                    worker.join(120)
                    out["registered_to_first_shadow_s"].append(first / 1000 - t0)
                    log.update(lambda p: p.set(primary="1", canary="", canary_share=0.0,
                                               shadow=""))
                    # a failing canary: breach -> no replica routes to it
                    broken = _scorer(len(FEATURE_NAMES) + 1)
                    _run_id, bad = registry.log_training(
                        card={**card, "data_window": {}}, params={"bench": i}, metrics={},
                        onnx=broken, run_name="bench-broken")
                    publish(repo, broken, card, int(bad))
                    triton.load_model("risk_scorer")
                    start_ms = int(time.time() * 1000)
                    ctl = Controller(settings, log, Plan(**{**plan.__dict__, "shadow": False,
                                                            "shares": (0.25,)}),
                                     triton=gateway)
                    result: dict[str, Any] = {}
                    worker = threading.Thread(
                        target=lambda b=bad, c=ctl, res=result: res.update(out=c.run(b)))
                    worker.start()
                    def routed(b: str = bad) -> bool:
                        return any(r.router.current().canary == b for r in replicas)

                    deadline = time.monotonic() + 60
                    while not routed() and time.monotonic() < deadline:  # the step reaches them
                        time.sleep(0.005)
                    while routed() and time.monotonic() < deadline:  # and the rollback
                        time.sleep(0.005)
                    zero_ms = time.time() * 1000
                    worker.join(60)
                    breach_ms = _first(kafka, settings.predictions_topic, start_ms,
                                       lambda r, b=bad: (r.model_version == b and bool(r.error))
                                       or "canary_failed" in r.degraded_reasons,
                                       count=plan.gates.min_errors)
                    out["breach_to_zero_traffic_s"].append((zero_ms - breach_ms) / 1000)
                    out["breach_to_rollback_written_s"].append(
                        (result["out"].rolled_back_at_ms - breach_ms) / 1000)
                    assert not result["out"].promoted, result["out"]
            out.update(_follow_cost(settings, users, rounds))
        finally:
            gateway.close()
            for r in replicas:
                r.stop(0)
            log.close()
            mlflow.stop()
            triton.stop()
    return out


def _follow_cost(settings: Any, users: list[str], rounds: int) -> dict[str, Any]:
    from inference.app import build
    from inference.router import PolicyStore, RoutingPolicy
    from mlmesh.inference.v1 import inference_service_pb2 as pb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc

    policy_file = settings.state_dir / "routing.yaml"
    PolicyStore(policy_file).save(RoutingPolicy(primary="1"))
    lat: dict[str, list[float]] = {"file": [], "log": []}
    for _ in range(rounds):
        for kind in ("file", "log"):
            svc = build(settings.model_copy(update={
                "routing_file": policy_file if kind == "file" else None})).start()
            try:
                with grpc.insecure_channel(f"127.0.0.1:{svc.port}") as ch:
                    stub = pb_grpc.InferenceServiceStub(ch)
                    for i in range(200):  # warm-up
                        stub.Predict(pb.PredictRequest(user_id=users[i % len(users)]))
                    for i in range(1500):
                        t = time.perf_counter()
                        stub.Predict(pb.PredictRequest(user_id=users[i % len(users)]))
                        lat[kind].append((time.perf_counter() - t) * 1000)
            finally:
                svc.stop(0)
    return {"predict_ms": {k: percentiles(v) for k, v in lat.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    res = run(args.rounds)
    first, zero = res["registered_to_first_shadow_s"], res["breach_to_zero_traffic_s"]
    p99 = res["predict_ms"]
    write("rollout", {
        "rounds": args.rounds, **res,
        "ratios": [
            ratio("breach_to_zero_traffic_s (max of rounds)", max(zero), 5.0, 1.0, "s",
                  higher_is_better=False, note="baseline = the 5 s target"),
            ratio("predict_p99_log_vs_file", p99["log"]["p99"], p99["file"]["p99"], 1.10, "ms",
                  higher_is_better=False,
                  note="a replica following the rollout log vs one reading a policy file"),
        ],
        "registered_to_first_shadow_s_max": max(first),
    })
    sys.stdout.write(f"registered -> first shadow: {', '.join(f'{v:.2f}' for v in first)} s; "
          f"breach -> 0%: {', '.join(f'{v:.2f}' for v in zero)} s; Predict p99 "
          f"log {p99['log']['p99']:.2f} ms vs file {p99['file']['p99']:.2f} ms\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
