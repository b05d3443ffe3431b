"""Lag gate hysteresis: refuse above the threshold, release below threshold*ratio."""

from __future__ import annotations

from ingest.backpressure import LagGate


def test_gate_engages_and_releases_with_hysteresis():
    gate = LagGate(lambda _stop: {}, threshold=1000, release_ratio=0.8, interval_s=1)
    gate.update({"g": 999})
    assert not gate.refusing
    gate.update({"g": 1001, "h": 3})
    assert gate.refusing and gate.max_lag == 1001
    gate.update({"g": 900})  # below threshold but above 800: still refusing
    assert gate.refusing
    gate.update({"g": 799})
    assert not gate.refusing
