"""Cost per prediction per model version from measured resources (#31), on a
real Triton, the inference service and the monitor: version 1 is the small
scorer; a deliberately slower version (an MLP, three hidden layers of 2048)
serves half the users as a canary. The monitor reads Triton's per-execution
compute of each version and the CPU time the service reports per prediction
(PredictionMade.cpu_ms): the slower version costs more per prediction, the
shipped ``prediction_cost_regression`` rule fires for it on the alerts topic,
and version 1 has its own cost baseline pinned."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from inference.app import build
from inference.contract import FEATURE_NAMES
from inference.training.model import to_onnx
from inference.training.registry import publish, versions
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.testing.monitor import AlertReader, MonitorProcess, mesh_topics, sample, write_rules
from monitor.metrics.rules import load_rules
from monitor.settings import _default_alerts_file

pytestmark = pytest.mark.integration


def slow_scorer() -> bytes:
    """A real, larger model: three hidden layers of 2048 (about 8.4M
    multiply-adds per prediction against the logistic regression's 16; Triton's
    python backend costs version 1 about 0.8 ms per execution anyway)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 50, size=(300, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] > 25).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(2048, 2048, 2048), max_iter=2, random_state=0)
        clf.fit(x, y)
    return to_onnx(clf, x.shape[1])


def wait_version_gone(http_url: str, model: str, version: str, timeout: float = 120.0) -> None:
    """Triton unloads a removed version after the load call returns: wait until
    its statistics no longer list it and the model is ready, so the next test's
    service does not start while Triton is still tearing it down."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{http_url}/v2/models/{model}/stats", timeout=5) as r:
                listed = {str(v.get("version")) for v in json.load(r).get("model_stats", [])}
            with urllib.request.urlopen(f"{http_url}/v2/models/{model}/ready", timeout=5) as r:
                if r.status == 200 and version not in listed:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{model} version {version} still on Triton after {timeout} s")
        time.sleep(0.5)


def shipped_rule(name: str, window: str) -> dict[str, Any]:
    """The shipped rule, over a window this test fills in seconds."""
    rule = next(r for r in load_rules(_default_alerts_file()) if r.name == name)
    return {"name": rule.name, "metric": rule.metric, "op": rule.op,
            "threshold": rule.threshold, "severity": rule.severity, "window": window,
            "min_count": 100}


def test_slower_version_costs_more_and_its_alert_fires(inference_env: Any,
                                                       tmp_path: Path) -> None:
    env = inference_env
    comp = env.triton.component
    slow = str(max(versions(comp.model_repository), default=0) + 1)
    publish(comp.model_repository, slow_scorer(), {"note": "cost test: a slower scorer"},
            version=int(slow))
    comp.load_model("risk_scorer")
    rules = write_rules(tmp_path / "rules.yaml",
                        [shipped_rule("prediction_cost_regression", "30s")])
    mon = MonitorProcess(env.kafka, tmp_path / "monitor", env={
        "MLMESH_MONITOR_WINDOW_S": "5", "MLMESH_MONITOR_REFERENCE_MIN_COUNT": "100",
        "MLMESH_MONITOR_TRITON_URL": env.triton.http_url,
        "MLMESH_MONITOR_TRITON_INTERVAL_S": "0.5", "MLMESH_MONITOR_ALERTS_FILE": str(rules)})
    mesh_topics(env.kafka, mon.prefix)
    routing = tmp_path / "routing.yaml"
    routing.write_text(yaml.safe_dump({"primary": "1", "canary": slow, "canary_share": 0.5}))
    svc = build(env.settings(routing_file=routing,
                             predictions_topic=mon.prefix + "predictions")).start()
    reader = AlertReader(env.kafka, mon.prefix + "alerts")
    mon.start()
    channel, stub = env.stub(svc)
    try:
        mon.wait_for(lambda s: s.get("ready"), 60, "monitor ready")
        time.sleep(1.5)  # Triton read before the first prediction's window
        stop = threading.Event()
        served: dict[str, int] = {}
        lock = threading.Lock()

        def client(n: int) -> None:
            i = 0
            while not stop.is_set():
                resp = stub.Predict(pb.PredictRequest(user_id=f"cost-{n}-{i % 97}"), timeout=10)
                with lock:
                    served[resp.model_version] = served.get(resp.model_version, 0) + 1
                i += 1

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(3)]
        for t in threads:
            t.start()
        try:
            _key, alert = reader.wait_for(
                lambda a: a.rule == "prediction_cost_regression" and not a.resolved, 120)
            summary = mon.wait_for(
                lambda s: sample(s, "cost_per_1k_predictions_vs_baseline",
                                 model_version="1") is not None, 60, "version 1's baseline")
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        assert served.get("1", 0) > 100 and served.get(slow, 0) > 100, served
        assert alert.labels["model_version"] == slow
        assert alert.labels["baseline_version"] == "1"
        assert alert.value > 1.5

        def value(metric: str, version: str) -> float:
            s = sample(summary, metric, model_version=version)
            assert s is not None, (metric, version, sorted(summary["samples"]))
            return float(s["value"])

        assert value("model_compute_ms_per_prediction", slow) > \
            1.5 * value("model_compute_ms_per_prediction", "1")
        assert value("inference_cpu_ms_per_prediction", "1") > 0
        assert value("cost_per_1k_predictions", slow) > 1.5 * value("cost_per_1k_predictions",
                                                                    "1")
        assert 0.5 < value("cost_per_1k_predictions_vs_baseline", "1") < 2.0
    finally:
        channel.close()
        svc.stop(0)
        reader.close()
        mon.stop()
        shutil.rmtree(comp.model_repository / "risk_scorer" / slow, ignore_errors=True)
        comp.load_model("risk_scorer")  # the tests after this one share the server
        wait_version_gone(env.triton.http_url, "risk_scorer", slow)
        time.sleep(2)  # the python backend's stub of the removed version exits
