"""Cost per prediction per model version from what the predictions used: the
inference service's CPU time (PredictionMade.cpu_ms) and the scoring model's
compute on Triton (its per-execution statistics, read by monitor.tritonstats),
at configured prices; a version whose cost rises past its own baseline fires
the shipped ``prediction_cost_anomaly`` rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from monitor.metrics import records as rec
from monitor.metrics.rules import AlertEngine, load_rules
from monitor.metrics.summary import Prices, compute_samples, pick_cost_baselines
from monitor.settings import _default_alerts_file
from monitor.tritonstats import TritonCompute, execution_compute_ns

PRICES = Prices(cpu_hour=0.048, gpu_hour=2.5, model_device="cpu")


def stats(versions: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """Triton's /stats answer: per version (inference_count, executions of 32 at
    ``ns`` each, split over input/infer/output as Triton reports them)."""
    out = []
    for version, (inferences, ns) in versions.items():
        out.append({"name": "risk_scorer", "version": version, "inference_count": inferences,
                    "inference_stats": {"compute_infer": {"count": inferences,
                                                          "ns": ns * 32}},  # per request
                    "batch_stats": [{"batch_size": 32,
                                     "compute_input": {"count": 1, "ns": ns // 10},
                                     "compute_infer": {"count": 1, "ns": ns - ns // 5},
                                     "compute_output": {"count": 1, "ns": ns // 10}}]})
    return {"model_stats": out}


def test_compute_comes_from_the_executions_not_the_requests() -> None:
    v = stats({"1": (320, 5_000_000)})["model_stats"][0]
    assert execution_compute_ns(v) == 5_000_000  # per request it would read 32x that


def test_compute_over_a_range_from_the_bracketing_readings() -> None:
    answers = iter([stats({"1": (0, 0), "2": (0, 0)}),
                    stats({"1": (1000, 20_000_000), "2": (1000, 200_000_000)}),
                    stats({"1": (2000, 40_000_000), "2": (2000, 400_000_000)})])
    tc = TritonCompute("http://triton:8000", "risk_scorer", fetch=lambda url, t: next(answers))
    for at in (100.0, 110.0, 120.0):
        tc.poll(at)
    assert tc.compute_ms(110.0, 120.0) == {"1": 20.0, "2": 200.0}
    assert tc.compute_ms(90.0, 125.0) == {"1": 40.0, "2": 400.0}  # from the first reading
    assert tc.covers("1", 100.0) and not tc.covers("1", 99.0)


def test_an_unreadable_triton_leaves_the_readings_and_says_why() -> None:
    def down(url: str, timeout: float) -> Mapping[str, Any]:
        raise ConnectionRefusedError("triton down")

    tc = TritonCompute("http://triton:8000", "risk_scorer", fetch=down)
    tc.poll(1.0)
    assert tc.error == "triton down" and tc.compute_ms(0.0, 2.0) == {}


def test_a_reloaded_version_starts_a_new_series() -> None:
    answers = iter([stats({"1": (5000, 900_000_000)}), stats({"1": (10, 1_000_000)}),
                    stats({"1": (20, 2_000_000)})])
    tc = TritonCompute("http://t:8000", "risk_scorer", fetch=lambda url, t: next(answers))
    for at in (1.0, 2.0, 3.0):
        tc.poll(at)
    assert tc.compute_ms(0.0, 3.0) == {"1": 1.0}


def predictions(n: int, version: str, cpu_ms: float, route: str = "primary") -> rec.Record:
    r: rec.Record = {}
    for i in range(n):
        rec.apply_prediction(r, model_version=version, latency_ms=5.0, error="",
                             cache_hit=False, route=route, score=(i % 10) / 10,
                             features={}, feature_age_ms=1.0, degraded=False, cpu_ms=cpu_ms)
    return {"predictions": r}


def test_a_slower_version_costs_more_per_prediction() -> None:
    merged = predictions(400, "1", cpu_ms=1.0)
    rec.merge(merged["predictions"], predictions(400, "2", cpu_ms=1.0)["predictions"])
    # same CPU in the service; version 2's model computes 8x longer on Triton
    s = compute_samples(merged, 60.0, PRICES, model_compute_ms={"1": 400.0, "2": 3200.0})
    cost = {x.labels["model_version"]: x.value for x in s["cost_per_1k_predictions"]}
    # (400 ms CPU + 400 ms model) at 0.048/h over 400 -> per 1k
    assert cost["1"] == pytest.approx(800 / 3.6e6 * 0.048 / 400 * 1000)
    assert cost["2"] / cost["1"] == pytest.approx((400 + 3200) / 800)


def test_without_triton_the_cost_is_the_service_cpu_alone() -> None:
    s = compute_samples(predictions(100, "1", cpu_ms=2.0), 60.0, PRICES)
    assert "model_compute_ms_per_prediction" not in s
    assert s["cost_per_1k_predictions"][0].value == pytest.approx(
        200 / 3.6e6 * 0.048 / 100 * 1000)


def test_cost_rising_past_its_own_baseline_fires_the_shipped_rule() -> None:
    rules = [r for r in load_rules(_default_alerts_file()) if r.name == "prediction_cost_anomaly"]
    assert rules, "alerts.yaml ships the cost anomaly rule"
    engine = AlertEngine(rules)
    base = compute_samples(predictions(400, "2", 1.0), 60.0, PRICES,
                           model_compute_ms={"2": 400.0})["cost_per_1k_predictions"][0].value
    refs = {"2": {"cost_1k": base}}

    def at(model_ms: float) -> Any:
        s = compute_samples(predictions(400, "2", 1.0), 60.0, PRICES, references=refs,
                            model_compute_ms={"2": model_ms})
        return lambda window_s: s

    assert engine.evaluate(at(450.0), now=1.0) == []  # within 1.5x of its baseline
    fired = engine.evaluate(at(2000.0), now=2.0)  # (400 + 2000) / 800 = 3x
    assert [(t.rule.name, t.state.labels, t.resolved) for t in fired] == [
        ("prediction_cost_anomaly", {"model_version": "2"}, False)]
    assert fired[0].value == pytest.approx(3.0)
    resolved = engine.evaluate(at(400.0), now=3.0)
    assert [t.resolved for t in resolved] == [True]


def test_a_costlier_canary_against_the_primary_fires_the_regression_rule() -> None:
    rules = [r for r in load_rules(_default_alerts_file())
             if r.name == "prediction_cost_regression"]
    assert rules, "alerts.yaml ships the cost regression rule"
    merged = predictions(600, "1", cpu_ms=1.0)
    rec.merge(merged["predictions"], predictions(300, "2", 1.0, route="canary")["predictions"])
    s = compute_samples(merged, 60.0, PRICES, model_compute_ms={"1": 600.0, "2": 1500.0})
    ratio = s["cost_per_1k_predictions_ratio"]
    assert [(x.labels, round(x.value, 3)) for x in ratio] == [
        ({"model_version": "2", "baseline_version": "1"}, 3.0)]  # (300+1500)/300 / (1200/600)
    fired = AlertEngine(rules).evaluate(lambda window_s: s, now=1.0)
    assert [t.state.labels["model_version"] for t in fired] == ["2"]


def test_cost_baseline_from_the_first_closed_window_triton_covered() -> None:
    def window(n: int) -> dict[str, Any]:
        return rec.dehydrate(predictions(n, "2", 1.0)["predictions"])

    windows = [(0.0, 10.0, window(300)), (10.0, 20.0, window(300)), (20.0, 30.0, window(300)),
               (30.0, 40.0, window(300))]
    read_from = 10.0  # the monitor started reading Triton at t=10

    def model_ms(version: str, start: float, end: float) -> float | None:
        return 300.0 if start >= read_from else None

    got = pick_cost_baselines(windows, now=35.0, min_count=200, need=["2"], prices=PRICES,
                              model_ms=model_ms)
    assert got == {"2": (10.0, pytest.approx(600 / 3.6e6 * 0.048 / 300 * 1000))}
    # too few predictions, or the window still open: nothing yet
    assert pick_cost_baselines(windows, now=35.0, min_count=301, need=["2"], prices=PRICES,
                               model_ms=model_ms) == {}
    assert pick_cost_baselines(windows[:2], now=15.0, min_count=200, need=["2"], prices=PRICES,
                               model_ms=model_ms) == {}
