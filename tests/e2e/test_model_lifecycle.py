"""The model lifecycle on the running mesh (#26), as a user drives it:
`mlmesh up` (MLflow among the components, the first model registered and named
primary in the rollout log), a workload streamed through ingest (events and
labels), `mlmesh train` on the mesh's own data (labels topic + Feast offline
point-in-time join) -> a run and a version in MLflow, checked through its REST
API, then `mlmesh rollout start` under live Predict traffic: it either promotes
the version or rolls it back with the reason recorded in the log and in MLflow,
and `mlmesh rollout history --at` answers which version served when."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from mlmesh.common import ports
from mlmesh.localstack.base import port_open

pytestmark = pytest.mark.slow
MLFLOW = f"http://127.0.0.1:{ports.MLFLOW}"


def _mlmesh(env: dict[str, str], *args: str, timeout: float = 900, ok: bool = True) -> str:
    proc = subprocess.run([sys.executable, "-m", "mlmesh.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if ok:
        assert proc.returncode == 0, f"mlmesh {' '.join(args)}:\n{proc.stdout[-3000:]}" \
                                     f"{proc.stderr[-3000:]}"
    elif proc.returncode not in (0, 1):  # 1: rolled back; anything else is an error
        raise AssertionError(f"mlmesh {' '.join(args)}: exit {proc.returncode}\n"
                             f"{proc.stderr[-3000:]}")
    return proc.stdout


def _get(endpoint: str, **query: str) -> dict[str, Any]:
    url = f"{MLFLOW}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _traffic(users: list[str], stop: threading.Event) -> None:
    from mlmesh.inference.v1 import inference_service_pb2 as pb
    from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc

    with grpc.insecure_channel(f"127.0.0.1:{ports.INFERENCE_GRPC}") as channel:
        stub = pb_grpc.InferenceServiceStub(channel)
        i = 0
        while not stop.is_set():
            with contextlib.suppress(grpc.RpcError):
                stub.Predict(pb.PredictRequest(user_id=users[i % len(users)]), timeout=5)
            i += 1


def test_train_register_and_roll_out_on_the_running_mesh(tmp_path: Path) -> None:
    busy = [p for p in (*ports.STACK, ports.MLFLOW) if port_open(p)]
    if busy:
        pytest.skip(f"the local stack's default ports {busy} are in use (a running mlmesh up)")
    env = dict(os.environ, MLMESH_STATE_DIR=str(tmp_path / "state"))
    try:
        _mlmesh(env, "up")
        status = json.loads(_mlmesh(env, "status", "--json"))
        mlflow = next(c for c in status["components"] if c["name"] == "mlflow")
        assert mlflow["healthy"] and mlflow["addresses"]["http"] == MLFLOW
        first = json.loads(_mlmesh(env, "rollout", "status", "--json"))
        assert first["primary"] == "1" and first["history"][-1]["action"] == "bootstrap"
        v1 = _get("model-versions/get", name="risk_scorer", version="1")["model_version"]
        synthetic = _get("runs/get", run_id=v1["run_id"])["run"]["data"]["params"]
        assert any(p["key"] == "labels_source" and "synthetic" in p["value"]
                   for p in synthetic)

        _mlmesh(env, "demo", "--attach", "--seconds", "10", "--rate", "300", "--users", "40",
                "--out", str(tmp_path / "demo.json"))
        trained = json.loads(_mlmesh(env, "train", "--labels-topic", "labels", "--json"))
        assert trained["card"]["version"] == "2" and trained["run_id"]
        run = _get("runs/get", run_id=trained["run_id"])["run"]
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert params["labels_source"] == "topic labels" and params["champion_version"] == "1"
        assert params["features"].split(",")[0] == "event_count_5m"
        assert params["label_time_min"] <= params["label_time_max"]
        assert params["code_revision"]
        for key in ("holdout_auc", "holdout_brier", "holdout_ece", "champion_auc",
                    "champion_brier", "labels", "holdout_rows"):
            assert key in metrics, key
        assert metrics["labels"] == trained["card"]["data_window"]["labels"] > 0
        listed = _get("artifacts/list", run_id=trained["run_id"], path="model")
        assert {"model/model.onnx", "model/model_card.json"} <= \
            {f["path"] for f in listed["files"]}
        v2 = _get("model-versions/get", name="risk_scorer", version="2")["model_version"]
        assert v2["run_id"] == trained["run_id"]

        users = [f"u{i:05d}" for i in range(40)]  # the demo workload's users
        stop = threading.Event()
        driver = threading.Thread(target=_traffic, args=(users, stop), daemon=True)
        driver.start()
        before_ms = int(time.time() * 1000)
        try:
            out = _mlmesh(env, "rollout", "start", "--version", "2", "--hold", "2",
                          "--max-hold", "90", "--min-requests", "20", "--json", ok=False)
        finally:
            stop.set()
            driver.join(10)
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert events and events[0]["event"] == "step" and events[0]["step"] == "shadow", out
        policy = json.loads(_mlmesh(env, "rollout", "status", "--json"))
        tags = {t["key"]: t["value"] for t in _get(
            "model-versions/get", name="risk_scorer", version="2")["model_version"]["tags"]}
        if events[-1]["event"] == "promoted":
            assert policy["primary"] == "2" and policy["previous"] == "1"
            assert tags["mlmesh.stage"] == "primary"
        else:  # the gates judged it worse than the primary: out, and why is recorded
            assert events[-1]["event"] == "rolled_back", out
            assert policy["primary"] == "1" and "2" not in (policy["canary"], policy["shadow"])
            assert policy["history"][-1]["action"] == "rollback"
            assert policy["history"][-1]["reason"] and tags["mlmesh.rollback_reason"]
        at_start = json.loads(_mlmesh(env, "rollout", "history", "--at", str(before_ms),
                                      "--json"))
        assert at_start["primary"] == "1" and at_start["shadow"] == ""
    finally:
        _mlmesh(env, "down", ok=False)
