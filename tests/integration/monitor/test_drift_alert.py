"""Drift switched on raises the drift alert (key = rule name, labels with
model_version and feature) within one window; it resolves once it stops."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmesh.testing.monitor import AlertReader, sample, write_rules
from monitor import synthetic as sy
from monitor.metrics.psi import psi_from_counts

WINDOW_S = 4.0


def _preds(rng: random.Random, n: int, start: int, ts_ms: int, drift: bool) -> list[sy.Out]:
    return [sy.prediction(f"r{start + i}", f"u{i % 100}", model_version="v1",
                          latency_ms=rng.uniform(5, 20), score=rng.random(),
                          features=sy.features_for(rng, drift=drift), ts_ms=ts_ms)
            for i in range(n)]


def _psi_raw(ref: list[float], cur: list[float]) -> float:
    edges = sorted(set(np.quantile(ref, [i / 10 for i in range(1, 10)], method="lower")))
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
    return psi_from_counts(list(r), list(c))


def test_drift_alert_within_one_window(monitor_factory: Any, tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "alerts.yaml", [
        {"name": "feature_drift", "metric": "psi", "threshold": 0.2, "window": WINDOW_S,
         "min_count": 200, "severity": "warning"}])
    mon = monitor_factory(env={"MLMESH_MONITOR_WINDOW_S": str(WINDOW_S),
                               "MLMESH_MONITOR_ALERTS_FILE": str(rules),
                               "MLMESH_MONITOR_REFERENCE_MIN_COUNT": "500"})
    reader = AlertReader(mon.bootstrap, mon.prefix + "alerts")
    rng = random.Random(11)
    prod = sy.producer(mon.bootstrap)
    topic = mon.prefix + "predictions"
    try:
        # reference: a closed window 60 s in the past
        ref = _preds(rng, 1500, 0, int((time.time() - 60) * 1000), drift=False)
        sy.produce(prod, topic, ref)
        mon.wait_for(lambda s: "v1" in s["references"], 60, "reference pinned")
        # normal traffic now: no drift alert
        normal_preds = _preds(rng, 600, 10_000, int(time.time() * 1000), False)
        sy.produce(prod, topic, normal_preds)
        s = mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= 2100, 30, "normal")
        time.sleep(1.5)
        s = mon.summary()
        normal = sample(s, "psi", model_version="v1", feature="amount_sum_5m")
        assert normal is not None and normal["value"] < 0.1
        assert not s["alerts"]
        time.sleep(WINDOW_S + 0.5)  # normal traffic leaves the rule window

        onset = time.monotonic()
        drifted = _preds(rng, 800, 20_000, int(time.time() * 1000), drift=True)
        sy.produce(prod, topic, drifted)
        key, alert = reader.wait_for(
            lambda a: a.rule == "feature_drift" and not a.resolved
            and a.labels["feature"] == "amount_sum_5m", timeout=WINDOW_S * 3)
        elapsed = time.monotonic() - onset
        assert elapsed <= WINDOW_S, f"drift alert after {elapsed:.2f}s > one window"
        assert key == b"feature_drift"
        assert alert.labels["model_version"] == "v1" and alert.value > 0.2
        assert alert.threshold == 0.2 and alert.metric == "psi"

        # the alert may fire before every drifted record is counted: wait for all
        mon.wait_for(lambda s: s["processed"].get("predictions", 0) >= 2900, 30, "drifted")
        time.sleep(1.5)
        s = mon.summary()
        got = sample(s, "psi", model_version="v1", feature="amount_sum_5m")
        assert got is not None
        # the summary covers its whole range (300 s): reference + normal + drifted
        feat = "amount_sum_5m"
        everything = ref + normal_preds + drifted
        expected = _psi_raw([sy_f(o, feat) for o in ref], [sy_f(o, feat) for o in everything])
        assert got["value"] == pytest.approx(expected, rel=0.25)
        # the drift stops: the series leaves the window and the alert resolves
        _, resolved = reader.wait_for(lambda a: a.rule == "feature_drift" and a.resolved
                                      and a.labels["feature"] == "amount_sum_5m",
                                      timeout=WINDOW_S * 4)
        assert resolved.alert_id == alert.alert_id
    finally:
        reader.close()


def sy_f(out: sy.Out, feature: str) -> float:
    from mlmesh.events.v1 import prediction_made_pb2

    return float(prediction_made_pb2.PredictionMade.FromString(out.value).features[feature])
