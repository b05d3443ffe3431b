from __future__ import annotations

from pathlib import Path

import pytest

from monitor.metrics.rules import (
    AlertEngine,
    RulesError,
    Sample,
    load_rules,
    parse_duration,
    parse_rules,
)

REPO = Path(__file__).resolve().parents[3]


def test_shipped_rules_file_parses_and_covers_every_family() -> None:
    rules = load_rules(REPO / "services" / "monitor" / "alerts.yaml")
    metrics = {r.metric for r in rules}
    for needed in ("consumer_lag", "psi", "feature_freshness_p99_ms", "error_rate",
                   "latency_p95_ratio", "auc"):
        assert needed in metrics
    lag = {r.name: r.threshold for r in rules if r.metric == "consumer_lag"}
    assert sorted(lag.values()) == [1_000_000, 5_000_000]


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(RulesError):
        parse_rules({"rules": [{"name": "x", "metric": "m"}]})
    with pytest.raises(RulesError):
        parse_rules({"rules": [{"name": "x", "metric": "m", "threshold": 1, "op": "!="}]})
    with pytest.raises(RulesError):
        parse_rules({"rules": [{"name": "x", "metric": "m", "threshold": 1, "severity": "meh"}]})
    assert parse_duration("5m") == 300 and parse_duration("250ms") == 0.25


def _engine(**extra: object) -> AlertEngine:
    rule = {"name": "drift", "metric": "psi", "threshold": 0.2, "min_count": 10, **extra}
    return AlertEngine(parse_rules({"rules": [rule]}))


def _samples(value: float, count: int = 100) -> dict[str, list[Sample]]:
    return {"psi": [Sample("psi", {"model_version": "v2", "feature": "amount"}, value, count)]}


def test_fire_then_resolve_with_labels() -> None:
    eng = _engine()
    assert eng.evaluate(lambda _w: _samples(0.1), 0.0) == []
    fired = eng.evaluate(lambda _w: _samples(0.5), 1.0)
    assert len(fired) == 1 and not fired[0].resolved
    assert fired[0].state.labels == {"model_version": "v2", "feature": "amount"}
    assert eng.evaluate(lambda _w: _samples(0.6), 2.0) == []  # still firing: no repeat
    resolved = eng.evaluate(lambda _w: _samples(0.05), 3.0)
    assert [t.resolved for t in resolved] == [True]
    assert resolved[0].state.alert_id == fired[0].state.alert_id


def test_min_count_and_for_duration() -> None:
    eng = _engine(**{"for": "10s"})
    assert eng.evaluate(lambda _w: _samples(0.9, count=5), 0.0) == []
    assert eng.evaluate(lambda _w: _samples(0.9), 1.0) == []
    assert eng.evaluate(lambda _w: _samples(0.9), 5.0) == []
    assert len(eng.evaluate(lambda _w: _samples(0.9), 11.5)) == 1


def test_state_survives_restore() -> None:
    eng = _engine()
    eng.evaluate(lambda _w: _samples(0.5), 1.0)
    again = _engine()
    again.restore(eng.to_dict())
    out = again.evaluate(lambda _w: {}, 2.0)
    assert [t.resolved for t in out] == [True]


def test_less_than_rule_and_match() -> None:
    eng = AlertEngine(parse_rules({"rules": [
        {"name": "q", "metric": "auc", "op": "<", "threshold": 0.7,
         "match": {"model_version": "v2"}}]}))
    samples = {"auc": [Sample("auc", {"model_version": "v1"}, 0.5, 1),
                       Sample("auc", {"model_version": "v2"}, 0.6, 1)]}
    out = eng.evaluate(lambda _w: samples, 0.0)
    assert [t.state.labels["model_version"] for t in out] == ["v2"]
