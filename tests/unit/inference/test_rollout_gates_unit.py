"""The rollout gates on made-up windows of predictions (the integration test
runs them on served traffic)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.delivery.gates import GateConfig, Window, psi
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
