"""The rollout gates on made-up windows of predictions (the integration test
runs them on served traffic)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.delivery.gates import GateConfig, Window, psi
from mlmesh.events.v1 import label_pb2 as lb
from mlmesh.events.v1 import prediction_made_pb2 as pm


def _rec(version: str, route: str, score: float = 0.5, error: str = "",
         score_ms: float = 2.0, reasons: tuple[str, ...] = ()) -> pm.PredictionMade:
    return pm.PredictionMade(model_version=version, route=route, score=score, error=error,
                             stage_latency_ms={"score": score_ms},
                             degraded_reasons=list(reasons))


def test_psi_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(size=2000).tolist()
    assert psi(a, rng.uniform(size=2000).tolist()) < 0.05
    assert psi(a, (rng.uniform(size=2000) ** 4).tolist()) > 0.25
    assert psi([0.3] * 100, [0.3] * 100) == pytest.approx(0.0)
    assert psi([0.3] * 100, [0.7] * 100) > 1.0  # a constant answer moved


def test_errors_breach_at_once_and_canary_fallbacks_count_as_candidate_errors() -> None:
    w = Window("2", "1")
    for _ in range(40):
        w.add(_rec("1", "primary"))
    for _ in range(3):
        w.add(_rec("2", "canary", error="UNAVAILABLE"))
    assert not w.verdict(GateConfig()).breach  # fewer than min_errors
    for _ in range(2):  # the canary failed and the primary answered instead
        w.add(_rec("1", "primary", reasons=("canary_failed",)))
    v = w.verdict(GateConfig())
    assert "error rate" in v.breach and w.cand.errors == 5 and w.prim.requests == 40


def test_promotion_needs_enough_answers_then_latency_and_shift() -> None:
    cfg = GateConfig(min_requests=10)
    w = Window("2", "1")
    for i in range(10):
        w.add(_rec("1", "primary", score=i / 10))
    assert w.verdict(cfg).waiting and not w.verdict(cfg).ready
    for i in range(10):
        w.add(_rec("2", "shadow", score=i / 10))
    assert w.verdict(cfg).ready
    slow = Window("2", "1")
    for i in range(10):
        slow.add(_rec("1", "primary", score=i / 10, score_ms=2.0))
        slow.add(_rec("2", "shadow", score=i / 10, score_ms=40.0))
    assert "p99" in slow.verdict(cfg).breach
    other = Window("3", "1")
    other.add(_rec("2", "canary"))  # neither version of this window
    assert other.cand.requests == other.prim.requests == 0


def test_triton_keeps_what_is_routed_and_the_last_three_primaries() -> None:
    from inference.control import LoggedPolicy
    from inference.delivery.controller import keep_loaded
    from inference.router import RoutingPolicy

    class Log:
        def __init__(self, primaries: list[str]) -> None:
            self.entries = [LoggedPolicy(i, RoutingPolicy(primary=p, revision=i + 1))
                            for i, p in enumerate(primaries)]

        def history(self) -> list[LoggedPolicy]:
            return self.entries

    log = Log(["1", "2", "2", "3", "4", "3", "5"])
    now = RoutingPolicy(primary="5", canary="7", shadow="8", previous="3")
    # the last three distinct primaries (4, 3, 5: 3 served again after 4), what
    # is routed, and the candidate being loaded
    assert keep_loaded(log, now, also=("9",)) == ["3", "4", "5", "7", "8", "9"]

    class File:  # a policy file: no history, only `previous`
        pass

    assert keep_loaded(File(), RoutingPolicy(primary="5", previous="4")) == ["4", "5"]


def _served(version: str, route: str, user: str, score: float, at_ms: int) -> pm.PredictionMade:
    rec = _rec(version, route, score=score)
    rec.user_id = user
    rec.predicted_at.FromMilliseconds(at_ms)
    return rec


def _label(user: str, value: float, observed_ms: int) -> lb.Label:
    label = lb.Label(user_id=user, value=value)
    label.observed_at.FromMilliseconds(observed_ms)
    return label


def test_auc_gate_joins_labels_with_each_versions_prediction_before_the_label() -> None:
    cfg = GateConfig(min_requests=10, min_labels=40, min_class=5, max_psi=100.0)
    w = Window("2", "1")
    for i in range(60):  # shadow: both versions score the same request
        user, good = f"u{i}", i % 2 == 0
        w.add(_served("1", "primary", user, 0.9 if good else 0.1, 1_000))
        w.add(_served("2", "shadow", user, 0.1 if good else 0.9, 1_000))
        if i < 30:
            w.add_label(_label(user, 1.0 if good else 0.0, 2_000))
    v = w.verdict(cfg)
    assert not v.breach and v.figures["candidate_labelled"] == 30  # too few: not a gate
    assert "candidate_auc" not in v.figures and v.ready
    for i in range(30, 60):
        w.add_label(_label(f"u{i}", 1.0 if i % 2 == 0 else 0.0, 2_000))
    v = w.verdict(cfg)
    assert "AUC 0.000" in v.breach and v.figures["primary_auc"] == 1.0


def test_a_label_uses_the_latest_prediction_made_before_it_whichever_is_read_first() -> None:
    cfg = GateConfig(min_labels=4, min_class=2)
    w = Window("2", "1")
    w.add_label(_label("a", 1.0, 5_000))          # read before any of a's predictions
    w.add(_served("1", "primary", "a", 0.2, 1_000))
    w.add(_served("1", "primary", "a", 0.8, 4_000))   # later, still before the label
    w.add(_served("1", "primary", "a", 0.1, 6_000))   # after the label: not its prediction
    assert w.prim.labelled == [(0.8, True)]
    w.add(_served("1", "primary", "b", 0.3, 1_000))
    w.add_label(_label("b", 0.0, 2_000))
    w.add_label(_label("nobody", 1.0, 2_000))     # no prediction of either version
    assert w.prim.labelled == [(0.8, True), (0.3, False)] and w.cand.labelled == []
    assert w.prim.auc(cfg) is None                # fewer than min_labels
    w.prim.labelled += [(0.7, True), (0.4, False), (0.5, True), (0.5, False)]
    # positives 0.8, 0.7, 0.5 against negatives 0.3, 0.4, 0.5: 3 + 3 + 2 + one tie
    assert w.prim.auc(cfg) == pytest.approx(8.5 / 9)
